man_MANS += man/meshara.1 man/meshara-protocol.7 man/meshara-performance.7
EXTRA_DIST += $(man_MANS)
