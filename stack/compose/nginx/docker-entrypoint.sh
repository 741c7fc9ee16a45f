#!/bin/sh
# The gateway image's start: each /etc/nginx/templates/NAME.template rendered into
# /etc/nginx/conf.d/NAME with the two API keys filled in (nginx's own $variables untouched),
# then nginx in the foreground.
set -eu
for template in /etc/nginx/templates/*.template; do
  [ -e "$template" ] || continue
  name="$(basename "$template" .template)"
  envsubst '${ANON_KEY} ${SERVICE_ROLE_KEY}' <"$template" >"/etc/nginx/conf.d/$name"
done
# No certificate mounted: a self-signed one for localhost (verifying clients refuse it).
if [ ! -f /etc/nginx/tls/tls.crt ] || [ ! -f /etc/nginx/tls/tls.key ]; then
  mkdir -p /tmp/sober-tls
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
    -keyout /tmp/sober-tls/tls.key -out /tmp/sober-tls/tls.crt 2>/dev/null
  sed -i 's|/etc/nginx/tls/|/tmp/sober-tls/|g' /etc/nginx/conf.d/*.conf
fi
exec nginx -g 'daemon off;'
