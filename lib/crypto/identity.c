/* placeholder */ typedef int mesh_placeholder_t;
