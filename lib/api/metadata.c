/* placeholder: being written */
typedef int dapr__placeholder_metadata_t;
