/* placeholder: being written */
typedef int dapr__placeholder_state_t;
