/* placeholder: being written */
typedef int dapr__placeholder_runtime_t;
