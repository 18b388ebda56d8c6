/* placeholder: being written */
typedef int dapr__placeholder_registry_t;
