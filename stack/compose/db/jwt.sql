-- Runs once at first start: the token lifetime, readable by SQL as app.settings.jwt_exp.
\set jwt_expiry `printf '%s' "$JWT_EXP"`

ALTER DATABASE postgres SET "app.settings.jwt_exp" TO :'jwt_expiry';
