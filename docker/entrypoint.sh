#!/bin/sh
# Migrate, then run the given chargeback-desk command (serve by default; `worker` for workers).
set -eu
if [ "${1:-serve}" = "serve" ]; then
  chargeback-desk migrate
fi
exec chargeback-desk "$@"
