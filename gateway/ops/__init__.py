"""Running it unattended: `check-config`, host checks, sd_notify, the configuration reference.

Holds the checks `check-config` runs (`checks`, `checks_host`), the systemd notify client
(`sdnotify`) and the generator of docs/configuration.md (`config_reference`). Stands above every
domain package (it checks them all); only the composition root (cli, app, wiring) imports it.
"""
