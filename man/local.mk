man_MANS += man/meshara.1 man/meshara-protocol.7 man/meshara-performance.7 \
	man/meshara-node.1 man/meshara-send.1 man/meshara-keygen.1 \
	man/meshara-demo.1 man/meshara-sim.1 man/meshara.conf.5 \
	man/meshara-trust.1 man/meshara-update.1
EXTRA_DIST += $(man_MANS)

# Section 3: one page per area of the API, and for every other exported
# function a one-line page that includes its area's page (.so).
MAN3_PAGES = \
	man/man3/meshara_error.3 \
	man/man3/meshara_identity.3 \
	man/man3/meshara_node.3 \
	man/man3/meshara_node_settings.3 \
	man/man3/meshara_node_updates.3 \
	man/man3/meshara_trust_store.3 \
	man/man3/meshara_update.3 \
	man/man3/meshara_version_string.3
MAN3_LINKS = \
	man/man3/meshara_node_set_trust_store.3 \
	man/man3/meshara_node_set_update_directory.3 \
	man/man3/meshara_node_get_update_directory.3 \
	man/man3/meshara_node_publish_update.3 \
	man/man3/meshara_node_list_updates.3 \
	man/man3/meshara_node_get_update_counters.3 \
	man/man3/meshara_error_quark.3 \
	man/man3/meshara_identity_get_fingerprint.3 \
	man/man3/meshara_identity_get_node_id.3 \
	man/man3/meshara_identity_get_node_id_hex.3 \
	man/man3/meshara_identity_get_public_key.3 \
	man/man3/meshara_identity_get_type.3 \
	man/man3/meshara_identity_load.3 \
	man/man3/meshara_identity_new.3 \
	man/man3/meshara_identity_new_from_seed.3 \
	man/man3/meshara_identity_ref.3 \
	man/man3/meshara_identity_save.3 \
	man/man3/meshara_identity_unref.3 \
	man/man3/meshara_node_add_bootstrap_peer.3 \
	man/man3/meshara_node_add_peer.3 \
	man/man3/meshara_node_broadcast.3 \
	man/man3/meshara_node_get_accepts_per_second.3 \
	man/man3/meshara_node_get_connects_per_second.3 \
	man/man3/meshara_node_get_fanout.3 \
	man/man3/meshara_node_get_identity.3 \
	man/man3/meshara_node_get_listen_address.3 \
	man/man3/meshara_node_get_max_peers.3 \
	man/man3/meshara_node_get_max_routes.3 \
	man/man3/meshara_node_get_mdns.3 \
	man/man3/meshara_node_get_peer_count.3 \
	man/man3/meshara_node_get_port.3 \
	man/man3/meshara_node_get_profile.3 \
	man/man3/meshara_node_get_seen_capacity.3 \
	man/man3/meshara_node_get_storage_path.3 \
	man/man3/meshara_node_get_type.3 \
	man/man3/meshara_node_has_route.3 \
	man/man3/meshara_node_is_running.3 \
	man/man3/meshara_node_list_peers.3 \
	man/man3/meshara_node_load_config.3 \
	man/man3/meshara_node_lookup.3 \
	man/man3/meshara_node_new.3 \
	man/man3/meshara_node_profile_from_string.3 \
	man/man3/meshara_node_profile_get_type.3 \
	man/man3/meshara_node_remove_peer.3 \
	man/man3/meshara_node_send_private.3 \
	man/man3/meshara_node_set_accepts_per_second.3 \
	man/man3/meshara_node_set_connects_per_second.3 \
	man/man3/meshara_node_set_fanout.3 \
	man/man3/meshara_node_set_listen_address.3 \
	man/man3/meshara_node_set_max_peers.3 \
	man/man3/meshara_node_set_max_routes.3 \
	man/man3/meshara_node_set_mdns.3 \
	man/man3/meshara_node_set_profile.3 \
	man/man3/meshara_node_set_seen_capacity.3 \
	man/man3/meshara_node_set_storage_path.3 \
	man/man3/meshara_node_start.3 \
	man/man3/meshara_node_stop.3 \
	man/man3/meshara_public_key_validate.3 \
	man/man3/meshara_trust_level_from_string.3 \
	man/man3/meshara_trust_level_to_string.3 \
	man/man3/meshara_trust_store_add.3 \
	man/man3/meshara_trust_store_get_authority.3 \
	man/man3/meshara_trust_store_get_n_authorities.3 \
	man/man3/meshara_trust_store_get_threshold.3 \
	man/man3/meshara_trust_store_get_type.3 \
	man/man3/meshara_trust_store_load.3 \
	man/man3/meshara_trust_store_new.3 \
	man/man3/meshara_trust_store_ref.3 \
	man/man3/meshara_trust_store_remove.3 \
	man/man3/meshara_trust_store_save.3 \
	man/man3/meshara_trust_store_set_threshold.3 \
	man/man3/meshara_trust_store_unref.3 \
	man/man3/meshara_update_apply.3 \
	man/man3/meshara_update_manifest_export_unsigned.3 \
	man/man3/meshara_update_manifest_get_info.3 \
	man/man3/meshara_update_manifest_merge.3 \
	man/man3/meshara_update_manifest_new_from_file.3 \
	man/man3/meshara_update_manifest_sign.3 \
	man/man3/meshara_update_manifest_verify.3 \
	man/man3/meshara_update_verify_file.3
man_MANS += $(MAN3_PAGES) $(MAN3_LINKS)
