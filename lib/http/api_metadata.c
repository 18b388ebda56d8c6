/* placeholder: being written */
typedef int dapr__placeholder_api_metadata_t;
