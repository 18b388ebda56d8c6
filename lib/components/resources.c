/* placeholder: being written */
typedef int dapr__placeholder_resources_t;
