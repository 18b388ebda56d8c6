/* placeholder: being written */
typedef int dapr__placeholder_path_t;
