/* placeholder: being written */
typedef int dapr__placeholder_server_t;
