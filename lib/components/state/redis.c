/* placeholder: being written */
typedef int dapr__placeholder_redis_t;
