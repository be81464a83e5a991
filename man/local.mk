man_MANS += man/meshara.1 man/meshara-protocol.7
man_MANS += man/meshara-trust.1 man/meshara-update.1
EXTRA_DIST += $(man_MANS)
