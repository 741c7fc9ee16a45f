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
exec nginx -g 'daemon off;'
