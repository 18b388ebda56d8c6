/* placeholder: being written */
typedef int dapr__placeholder_in_memory_t;
