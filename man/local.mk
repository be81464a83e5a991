man_MANS += man/meshara.1 man/meshara-protocol.7 man/meshara-performance.7 \
	man/meshara-node.1 man/meshara-send.1 man/meshara-keygen.1 \
	man/meshara-demo.1 man/meshara-sim.1 man/meshara.conf.5 \
	man/meshara-trust.1 man/meshara-update.1
EXTRA_DIST += $(man_MANS)
