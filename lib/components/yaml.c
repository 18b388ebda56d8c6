/* placeholder: being written */
typedef int dapr__placeholder_yaml_t;
