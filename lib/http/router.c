/* placeholder: being written */
typedef int dapr__placeholder_router_t;
