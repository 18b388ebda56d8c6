/* placeholder: being written */
typedef int dapr__placeholder_uvadapter_t;
