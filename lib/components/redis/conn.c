/* placeholder: being written */
typedef int dapr__placeholder_conn_t;
