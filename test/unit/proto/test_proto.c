/* Decodes the vectors gen_vectors.js wrote with the JavaScript SDK's own
 * generated code, using libdapr's protobuf-c descriptors; checks every field
 * against the values below (keep them in step with gen_vectors.js); then
 * re-encodes and compares the bytes. protobuf-c writes fields in number
 * order while the SDK's generators write them in declaration order, so when
 * the bytes differ they are compared again after sorting the fields of every
 * (nested) message by number.
 *
 * usage: test_proto <vectors.json>
 */
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dapr/proto/runtime/v1/dapr.pb-c.h"
#include "dapr/proto/runtime/v1/appcallback.pb-c.h"
#include "dapr/proto/internals/v1/service_invocation.pb-c.h"
#include "dapr/proto/placement/v1/placement.pb-c.h"
#include "durabletask/orchestrator_service.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"

#include "../testutil.h"

/* ---- helpers ---- */

/* Stop checking a message when a sub-message is missing (avoids NULL derefs). */
#define REQUIRE(cond)                                                                  \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
            test_failures++;                                                           \
            return;                                                                    \
        }                                                                              \
    } while (0)

#define CHECK_BYTES(bd, lit)                                                           \
    do {                                                                               \
        ProtobufCBinaryData b_ = (bd);                                                 \
        if (b_.len != sizeof(lit) - 1 || memcmp(b_.data, lit, b_.len)) {               \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s\n", __FILE__, __LINE__,     \
                    #bd, #lit);                                                        \
            test_failures++;                                                           \
        }                                                                              \
    } while (0)

/* StringValue wrapper present with this text. */
#define CHECK_SV(sv, lit)                                                              \
    do {                                                                               \
        const Google__Protobuf__StringValue *sv_ = (sv);                               \
        CHECK(sv_ != NULL);                                                            \
        if (sv_)                                                                       \
            CHECK_EQ_STR(sv_->value, lit);                                             \
    } while (0)

/* Value of a string-keyed map entry (map<string, X>): returns the member at
 * the value field's offset, i.e. a char * or a message pointer. Uses the
 * entry descriptor, so it works for every generated *Entry type. */
static void *map_find(size_t n, void *entries, const char *key)
{
    ProtobufCMessage **e = entries;
    for (size_t i = 0; i < n; i++) {
        const ProtobufCMessageDescriptor *d = e[i]->descriptor;
        const char *k = *(char **)((char *)e[i] + d->fields[0].offset);
        if (k && strcmp(k, key) == 0)
            return *(void **)((char *)e[i] + d->fields[1].offset);
    }
    return NULL;
}
#define MAP(msg, field, key) map_find((msg)->n_##field, (msg)->field, key)
#define CHECK_MAP_STR(msg, field, key, val) CHECK_EQ_STR((const char *)MAP(msg, field, key), val)

static void check_any_string(const Google__Protobuf__Any *any, const char *want)
{
    REQUIRE(any != NULL);
    CHECK_EQ_STR(any->type_url, "type.googleapis.com/google.protobuf.StringValue");
    Google__Protobuf__StringValue *sv =
        google__protobuf__string_value__unpack(NULL, any->value.len, any->value.data);
    REQUIRE(sv != NULL);
    CHECK_EQ_STR(sv->value, want);
    google__protobuf__string_value__free_unpacked(sv, NULL);
}

static void check_ts(const Google__Protobuf__Timestamp *ts, int64_t sec, int32_t ns)
{
    REQUIRE(ts != NULL);
    CHECK_EQ_INT(ts->seconds, sec);
    CHECK_EQ_INT(ts->nanos, ns);
}

static void check_instance(const WorkflowInstance *wi, const char *id, const char *exec)
{
    REQUIRE(wi != NULL);
    CHECK_EQ_STR(wi->instanceid, id);
    if (exec)
        CHECK_SV(wi->executionid, exec);
    else
        CHECK(wi->executionid == NULL);
}

/* ---- per-vector checks ---- */

#define RT(x) Dapr__Proto__Runtime__V1__##x
#define CO(x) Dapr__Proto__Common__V1__##x

static void check_get_state_request(const ProtobufCMessage *msg)
{
    const RT(GetStateRequest) *m = (const void *)msg;
    CHECK_EQ_STR(m->store_name, "statestore");
    CHECK_EQ_STR(m->key, "order-1");
    CHECK_EQ_INT(m->consistency, DAPR__PROTO__COMMON__V1__STATE_OPTIONS__STATE_CONSISTENCY__CONSISTENCY_STRONG);
    CHECK_EQ_INT(m->n_metadata, 2);
    CHECK_MAP_STR(m, metadata, "contentType", "application/json");
    CHECK_MAP_STR(m, metadata, "partitionKey", "p1");
}

static void check_save_state_request(const ProtobufCMessage *msg)
{
    const RT(SaveStateRequest) *m = (const void *)msg;
    CHECK_EQ_STR(m->store_name, "statestore");
    REQUIRE(m->n_states == 2);
    const CO(StateItem) *s0 = m->states[0], *s1 = m->states[1];
    CHECK_EQ_STR(s0->key, "k1");
    CHECK_BYTES(s0->value, "hello");
    REQUIRE(s0->etag && s0->options);
    CHECK_EQ_STR(s0->etag->value, "7");
    CHECK_EQ_INT(s0->n_metadata, 1);
    CHECK_MAP_STR(s0, metadata, "ttlInSeconds", "60");
    CHECK_EQ_INT(s0->options->concurrency,
                 DAPR__PROTO__COMMON__V1__STATE_OPTIONS__STATE_CONCURRENCY__CONCURRENCY_FIRST_WRITE);
    CHECK_EQ_INT(s0->options->consistency,
                 DAPR__PROTO__COMMON__V1__STATE_OPTIONS__STATE_CONSISTENCY__CONSISTENCY_STRONG);
    CHECK_EQ_STR(s1->key, "k2");
    CHECK_BYTES(s1->value, "\x00\xff\x10");
    CHECK(s1->etag == NULL);
    CHECK(s1->options == NULL);
    CHECK_EQ_INT(s1->n_metadata, 0);
}

static void check_execute_state_transaction_request(const ProtobufCMessage *msg)
{
    const RT(ExecuteStateTransactionRequest) *m = (const void *)msg;
    CHECK_EQ_STR(m->storename, "statestore");
    CHECK_MAP_STR(m, metadata, "txn", "yes");
    REQUIRE(m->n_operations == 2);
    REQUIRE(m->operations[0]->request && m->operations[1]->request);
    CHECK_EQ_STR(m->operations[0]->operationtype, "upsert");
    CHECK_EQ_STR(m->operations[0]->request->key, "a");
    CHECK_BYTES(m->operations[0]->request->value, "1");
    CHECK_EQ_STR(m->operations[1]->operationtype, "delete");
    CHECK_EQ_STR(m->operations[1]->request->key, "b");
    REQUIRE(m->operations[1]->request->etag);
    CHECK_EQ_STR(m->operations[1]->request->etag->value, "3");
}

static void check_get_metadata_response(const ProtobufCMessage *msg)
{
    const RT(GetMetadataResponse) *m = (const void *)msg;
    CHECK_EQ_STR(m->id, "myapp");
    REQUIRE(m->n_active_actors_count == 1);
    CHECK_EQ_STR(m->active_actors_count[0]->type, "Cart");
    CHECK_EQ_INT(m->active_actors_count[0]->count, 3);
    REQUIRE(m->n_registered_components == 1);
    const RT(RegisteredComponents) *c = m->registered_components[0];
    CHECK_EQ_STR(c->name, "statestore");
    CHECK_EQ_STR(c->type, "state.redis");
    CHECK_EQ_STR(c->version, "v1");
    REQUIRE(c->n_capabilities == 3);
    CHECK_EQ_STR(c->capabilities[0], "ETAG");
    CHECK_EQ_STR(c->capabilities[1], "TRANSACTIONAL");
    CHECK_EQ_STR(c->capabilities[2], "ACTOR");
    CHECK_MAP_STR(m, extended_metadata, "daprRuntimeVersion", "1.18.3");
    REQUIRE(m->n_subscriptions == 1);
    const RT(PubsubSubscription) *s = m->subscriptions[0];
    CHECK_EQ_STR(s->pubsub_name, "pubsub");
    CHECK_EQ_STR(s->topic, "orders");
    CHECK_MAP_STR(s, metadata, "rawPayload", "true");
    REQUIRE(s->rules && s->rules->n_rules == 1);
    CHECK_EQ_STR(s->rules->rules[0]->match, "event.type == \"a\"");
    CHECK_EQ_STR(s->rules->rules[0]->path, "/a");
    CHECK_EQ_STR(s->dead_letter_topic, "dlq");
    CHECK_EQ_INT(s->type, DAPR__PROTO__RUNTIME__V1__PUBSUB_SUBSCRIPTION_TYPE__PROGRAMMATIC);
    REQUIRE(m->n_http_endpoints == 1);
    CHECK_EQ_STR(m->http_endpoints[0]->name, "ep1");
    const RT(AppConnectionProperties) *a = m->app_connection_properties;
    REQUIRE(a && a->health);
    CHECK_EQ_INT(a->port, 3000);
    CHECK_EQ_STR(a->protocol, "grpc");
    CHECK_EQ_STR(a->channel_address, "127.0.0.1");
    CHECK_EQ_INT(a->max_concurrency, 10);
    CHECK_EQ_STR(a->health->health_check_path, "/healthz");
    CHECK_EQ_STR(a->health->health_probe_interval, "5s");
    CHECK_EQ_STR(a->health->health_probe_timeout, "500ms");
    CHECK_EQ_INT(a->health->health_threshold, 3);
    CHECK_EQ_STR(m->runtime_version, "1.18.3");
    REQUIRE(m->n_enabled_features == 1);
    CHECK_EQ_STR(m->enabled_features[0], "SchedulerReminders");
    const RT(ActorRuntime) *ar = m->actor_runtime;
    REQUIRE(ar);
    CHECK_EQ_INT(ar->runtime_status, DAPR__PROTO__RUNTIME__V1__ACTOR_RUNTIME__ACTOR_RUNTIME_STATUS__RUNNING);
    REQUIRE(ar->n_active_actors == 1);
    CHECK_EQ_STR(ar->active_actors[0]->type, "Cart");
    CHECK_EQ_INT(ar->active_actors[0]->count, 3);
    CHECK(ar->host_ready);
    CHECK_EQ_STR(ar->placement, "placement: connected");
    REQUIRE(m->_scheduler_case == DAPR__PROTO__RUNTIME__V1__GET_METADATA_RESPONSE___SCHEDULER_SCHEDULER);
    REQUIRE(m->scheduler->n_connected_addresses == 1);
    CHECK_EQ_STR(m->scheduler->connected_addresses[0], "127.0.0.1:50006");
    REQUIRE(m->_workflows_case == DAPR__PROTO__RUNTIME__V1__GET_METADATA_RESPONSE___WORKFLOWS_WORKFLOWS);
    CHECK_EQ_INT(m->workflows->connected_workers, 2);
    CHECK_EQ_INT(m->n_mcp_servers + m->n_workflow_access_policies + m->n_resiliencies, 0);
}

static void check_publish_event_request(const ProtobufCMessage *msg)
{
    const RT(PublishEventRequest) *m = (const void *)msg;
    CHECK_EQ_STR(m->pubsub_name, "pubsub");
    CHECK_EQ_STR(m->topic, "orders");
    CHECK_BYTES(m->data, "{\"id\":1}");
    CHECK_EQ_STR(m->data_content_type, "application/json");
    CHECK_EQ_INT(m->n_metadata, 2);
    CHECK_MAP_STR(m, metadata, "ttlInSeconds", "30");
    CHECK_MAP_STR(m, metadata, "rawPayload", "false");
}

static void check_topic_event_request(const ProtobufCMessage *msg)
{
    const RT(TopicEventRequest) *m = (const void *)msg;
    CHECK_EQ_STR(m->id, "evt-1");
    CHECK_EQ_STR(m->source, "checkout");
    CHECK_EQ_STR(m->type, "com.dapr.event.sent");
    CHECK_EQ_STR(m->spec_version, "1.0");
    CHECK_EQ_STR(m->data_content_type, "application/json");
    CHECK_BYTES(m->data, "{\"a\":1}");
    CHECK_EQ_STR(m->topic, "orders");
    CHECK_EQ_STR(m->pubsub_name, "pubsub");
    CHECK_EQ_STR(m->path, "/orders");
    REQUIRE(m->extensions && m->extensions->n_fields == 2);
    const Google__Protobuf__Value *v = MAP(m->extensions, fields, "traceid");
    REQUIRE(v && v->kind_case == GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE);
    CHECK_EQ_STR(v->string_value, "abc");
    v = MAP(m->extensions, fields, "priority");
    REQUIRE(v && v->kind_case == GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE);
    CHECK(v->number_value == 5.0);
}

static void check_subscribe_topic_events_initial(const ProtobufCMessage *msg)
{
    const RT(SubscribeTopicEventsRequestAlpha1) *m = (const void *)msg;
    REQUIRE(m->subscribe_topic_events_request_type_case ==
            DAPR__PROTO__RUNTIME__V1__SUBSCRIBE_TOPIC_EVENTS_REQUEST_ALPHA1__SUBSCRIBE_TOPIC_EVENTS_REQUEST_TYPE_INITIAL_REQUEST);
    const RT(SubscribeTopicEventsRequestInitialAlpha1) *i = m->initial_request;
    CHECK_EQ_STR(i->pubsub_name, "pubsub");
    CHECK_EQ_STR(i->topic, "orders");
    CHECK_MAP_STR(i, metadata, "k", "v");
    REQUIRE(i->_dead_letter_topic_case ==
            DAPR__PROTO__RUNTIME__V1__SUBSCRIBE_TOPIC_EVENTS_REQUEST_INITIAL_ALPHA1___DEAD_LETTER_TOPIC_DEAD_LETTER_TOPIC);
    CHECK_EQ_STR(i->dead_letter_topic, "orders-dead");
}

static void check_subscribe_topic_events_processed(const ProtobufCMessage *msg)
{
    const RT(SubscribeTopicEventsRequestAlpha1) *m = (const void *)msg;
    REQUIRE(m->subscribe_topic_events_request_type_case ==
            DAPR__PROTO__RUNTIME__V1__SUBSCRIBE_TOPIC_EVENTS_REQUEST_ALPHA1__SUBSCRIBE_TOPIC_EVENTS_REQUEST_TYPE_EVENT_PROCESSED);
    CHECK_EQ_STR(m->event_processed->id, "evt-1");
    REQUIRE(m->event_processed->status);
    CHECK_EQ_INT(m->event_processed->status->status,
                 DAPR__PROTO__RUNTIME__V1__TOPIC_EVENT_RESPONSE__TOPIC_EVENT_RESPONSE_STATUS__RETRY);
}

static void check_invoke_service_request(const ProtobufCMessage *msg)
{
    const RT(InvokeServiceRequest) *m = (const void *)msg;
    CHECK_EQ_STR(m->id, "target-app");
    const CO(InvokeRequest) *r = m->message;
    REQUIRE(r && r->http_extension);
    CHECK_EQ_STR(r->method, "doThing");
    check_any_string(r->data, "hi");
    CHECK_EQ_STR(r->content_type, "text/plain");
    CHECK_EQ_INT(r->http_extension->verb, DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__POST);
    CHECK_EQ_STR(r->http_extension->querystring, "a=1&b=2");
}

static void check_internal_invoke_request(const ProtobufCMessage *msg)
{
    const Dapr__Proto__Internals__V1__InternalInvokeRequest *m = (const void *)msg;
    CHECK_EQ_INT(m->ver, DAPR__PROTO__INTERNALS__V1__APIVERSION__V1);
    CHECK_EQ_INT(m->n_metadata, 2);
    const Dapr__Proto__Internals__V1__ListStringValue *l = MAP(m, metadata, "content-type");
    REQUIRE(l && l->n_values == 1);
    CHECK_EQ_STR(l->values[0], "application/json");
    l = MAP(m, metadata, "x-multi");
    REQUIRE(l && l->n_values == 2);
    CHECK_EQ_STR(l->values[0], "a");
    CHECK_EQ_STR(l->values[1], "b");
    const CO(InvokeRequest) *r = m->message;
    REQUIRE(r && r->data && r->http_extension);
    CHECK_EQ_STR(r->method, "m");
    CHECK_EQ_STR(r->data->type_url, "");
    CHECK_BYTES(r->data->value, "abc");
    CHECK_EQ_STR(r->content_type, "application/json");
    CHECK_EQ_INT(r->http_extension->verb, DAPR__PROTO__COMMON__V1__HTTPEXTENSION__VERB__GET);
    REQUIRE(m->actor);
    CHECK_EQ_STR(m->actor->actor_type, "Cart");
    CHECK_EQ_STR(m->actor->actor_id, "42");
}

static void check_placement_host(const ProtobufCMessage *msg)
{
    const Dapr__Proto__Placement__V1__Host *m = (const void *)msg;
    CHECK_EQ_STR(m->name, "10.0.0.5:50002");
    CHECK_EQ_INT(m->port, 50002);
    CHECK_EQ_INT(m->load, 7);
    REQUIRE(m->n_entities == 2);
    CHECK_EQ_STR(m->entities[0], "Cart");
    CHECK_EQ_STR(m->entities[1], "User");
    CHECK_EQ_STR(m->id, "myapp");
    CHECK_EQ_STR(m->pod, "pod-1");
    CHECK_EQ_INT(m->api_level, 20);
    CHECK_EQ_STR(m->namespace_, "default");
    CHECK_EQ_INT(m->operation, DAPR__PROTO__PLACEMENT__V1__HOST_OPERATION__UPDATE);
    REQUIRE(m->_version_case == DAPR__PROTO__PLACEMENT__V1__HOST___VERSION_VERSION);
    CHECK(m->version == UINT64_C(12345678901));
}

static void check_placement_order(const ProtobufCMessage *msg)
{
    const Dapr__Proto__Placement__V1__PlacementOrder *m = (const void *)msg;
    CHECK_EQ_STR(m->operation, "update");
    CHECK_EQ_INT(m->version, 9);
    const Dapr__Proto__Placement__V1__PlacementTables *t = m->tables;
    REQUIRE(t && t->n_entries == 1);
    CHECK_EQ_STR(t->version, "9");
    CHECK_EQ_INT(t->api_level, 20);
    CHECK_EQ_INT(t->replication_factor, 100);
    const Dapr__Proto__Placement__V1__PlacementTable *cart = MAP(t, entries, "Cart");
    REQUIRE(cart);
    REQUIRE(cart->n_hosts == 1);
    CHECK_EQ_INT(cart->hosts[0]->key, 1);
    CHECK_EQ_STR(cart->hosts[0]->value, "h1");
    REQUIRE(cart->n_sorted_set == 2);
    CHECK_EQ_INT(cart->sorted_set[0], 1);
    CHECK_EQ_INT(cart->sorted_set[1], 2);
    CHECK_EQ_INT(cart->total_load, 4);
    CHECK_EQ_INT(cart->n_load_map, 1);
    const Dapr__Proto__Placement__V1__Host *h = MAP(cart, load_map, "10.0.0.5:50002");
    REQUIRE(h && h->n_entities == 1);
    CHECK_EQ_STR(h->name, "10.0.0.5:50002");
    CHECK_EQ_STR(h->id, "myapp");
    CHECK_EQ_STR(h->entities[0], "Cart");
    CHECK(h->_version_case == DAPR__PROTO__PLACEMENT__V1__HOST___VERSION__NOT_SET);
}

static void check_register_actor_reminder_request(const ProtobufCMessage *msg)
{
    const RT(RegisterActorReminderRequest) *m = (const void *)msg;
    CHECK_EQ_STR(m->actor_type, "Cart");
    CHECK_EQ_STR(m->actor_id, "42");
    CHECK_EQ_STR(m->name, "r1");
    CHECK_EQ_STR(m->due_time, "10s");
    CHECK_EQ_STR(m->period, "R5/PT10S");
    CHECK_BYTES(m->data, "rem");
    CHECK_EQ_STR(m->ttl, "1h");
    /* explicitly set to false: presence must survive */
    CHECK_EQ_INT(m->_overwrite_case, DAPR__PROTO__RUNTIME__V1__REGISTER_ACTOR_REMINDER_REQUEST___OVERWRITE_OVERWRITE);
    CHECK_EQ_INT(m->overwrite, 0);
    CHECK_EQ_INT(m->_failure_policy_case,
                 DAPR__PROTO__RUNTIME__V1__REGISTER_ACTOR_REMINDER_REQUEST___FAILURE_POLICY__NOT_SET);
}

static void check_schedule_job_request(const ProtobufCMessage *msg)
{
    const RT(ScheduleJobRequest) *m = (const void *)msg;
    CHECK(m->overwrite);
    const RT(Job) *j = m->job;
    REQUIRE(j);
    CHECK_EQ_STR(j->name, "job1");
    REQUIRE(j->_schedule_case == DAPR__PROTO__RUNTIME__V1__JOB___SCHEDULE_SCHEDULE);
    CHECK_EQ_STR(j->schedule, "@every 5s");
    REQUIRE(j->_repeats_case == DAPR__PROTO__RUNTIME__V1__JOB___REPEATS_REPEATS);
    CHECK_EQ_INT(j->repeats, 3);
    REQUIRE(j->_due_time_case == DAPR__PROTO__RUNTIME__V1__JOB___DUE_TIME_DUE_TIME);
    CHECK_EQ_STR(j->due_time, "10s");
    REQUIRE(j->_ttl_case == DAPR__PROTO__RUNTIME__V1__JOB___TTL_TTL);
    CHECK_EQ_STR(j->ttl, "1h");
    check_any_string(j->data, "payload");
    REQUIRE(j->_failure_policy_case == DAPR__PROTO__RUNTIME__V1__JOB___FAILURE_POLICY_FAILURE_POLICY);
    REQUIRE(j->failure_policy->policy_case == DAPR__PROTO__COMMON__V1__JOB_FAILURE_POLICY__POLICY_CONSTANT);
    const CO(JobFailurePolicyConstant) *c = j->failure_policy->constant;
    REQUIRE(c->interval);
    CHECK_EQ_INT(c->interval->seconds, 2);
    CHECK_EQ_INT(c->interval->nanos, 500000000);
    /* max_retries = 0 set explicitly: presence must survive */
    CHECK_EQ_INT(c->_max_retries_case,
                 DAPR__PROTO__COMMON__V1__JOB_FAILURE_POLICY_CONSTANT___MAX_RETRIES_MAX_RETRIES);
    CHECK_EQ_INT(c->max_retries, 0);
}

static void check_work_item_workflow(const ProtobufCMessage *msg)
{
    const WorkItem *m = (const void *)msg;
    REQUIRE(m->request_case == WORK_ITEM__REQUEST_WORKFLOW_REQUEST);
    CHECK_EQ_STR(m->completiontoken, "");
    const WorkflowRequest *r = m->workflowrequest;
    CHECK_EQ_STR(r->instanceid, "wf-1");
    CHECK_SV(r->executionid, "exec-1");
    REQUIRE(r->n_pastevents == 2 && r->n_newevents == 3);

    const HistoryEvent *e = r->pastevents[0];
    CHECK_EQ_INT(e->eventid, -1);
    check_ts(e->timestamp, 1700000000, 5);
    CHECK_EQ_INT(e->event_type_case, HISTORY_EVENT__EVENT_TYPE_WORKFLOW_STARTED);

    e = r->pastevents[1];
    REQUIRE(e->event_type_case == HISTORY_EVENT__EVENT_TYPE_EXECUTION_STARTED);
    const ExecutionStartedEvent *es = e->executionstarted;
    CHECK_EQ_STR(es->name, "MyWorkflow");
    CHECK_SV(es->version, "v1");
    CHECK_SV(es->input, "\"in\"");
    check_instance(es->workflowinstance, "wf-1", "exec-1");
    REQUIRE(es->parentinstance);
    CHECK_EQ_INT(es->parentinstance->taskscheduledid, 4);
    CHECK_SV(es->parentinstance->name, "Parent");
    check_instance(es->parentinstance->workflowinstance, "parent-1", NULL);
    check_ts(es->scheduledstarttimestamp, 1700000100, 0);
    /* the SDK's StringValue correlationData lands in TraceContext.traceParent */
    REQUIRE(es->parenttracecontext);
    CHECK_EQ_STR(es->parenttracecontext->traceparent,
                 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    CHECK(es->parenttracecontext->tracestate == NULL);

    e = r->newevents[0];
    CHECK_EQ_INT(e->eventid, 1);
    check_ts(e->timestamp, 1700000200, 5);
    REQUIRE(e->event_type_case == HISTORY_EVENT__EVENT_TYPE_TASK_COMPLETED);
    CHECK_EQ_INT(e->taskcompleted->taskscheduledid, 0);
    CHECK_SV(e->taskcompleted->result, "42");
    e = r->newevents[1];
    CHECK_EQ_INT(e->eventid, 2);
    REQUIRE(e->event_type_case == HISTORY_EVENT__EVENT_TYPE_EVENT_RAISED);
    CHECK_EQ_STR(e->eventraised->name, "approve");
    CHECK_SV(e->eventraised->input, "true");
    e = r->newevents[2];
    CHECK_EQ_INT(e->eventid, 3);
    REQUIRE(e->event_type_case == HISTORY_EVENT__EVENT_TYPE_TIMER_FIRED);
    check_ts(e->timerfired->fireat, 1700000400, 0);
    CHECK_EQ_INT(e->timerfired->timerid, 2);
}

static void check_work_item_activity(const ProtobufCMessage *msg)
{
    const WorkItem *m = (const void *)msg;
    REQUIRE(m->request_case == WORK_ITEM__REQUEST_ACTIVITY_REQUEST);
    const ActivityRequest *a = m->activityrequest;
    CHECK_EQ_STR(a->name, "Act");
    CHECK_SV(a->version, "1");
    CHECK_SV(a->input, "\"x\"");
    check_instance(a->workflowinstance, "wf-1", "exec-1");
    CHECK_EQ_INT(a->taskid, 7);
}

static void check_workflow_response(const ProtobufCMessage *msg)
{
    const WorkflowResponse *m = (const void *)msg;
    CHECK_EQ_STR(m->instanceid, "wf-1");
    CHECK_SV(m->customstatus, "running");
    REQUIRE(m->n_actions == 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(m->actions[i]->id, i + 1);

    REQUIRE(m->actions[0]->workflow_action_type_case == WORKFLOW_ACTION__WORKFLOW_ACTION_TYPE_SCHEDULE_TASK);
    const ScheduleTaskAction *st = m->actions[0]->scheduletask;
    CHECK_EQ_STR(st->name, "Act");
    CHECK_SV(st->version, "1");
    CHECK_SV(st->input, "\"x\"");

    REQUIRE(m->actions[1]->workflow_action_type_case == WORKFLOW_ACTION__WORKFLOW_ACTION_TYPE_CREATE_TIMER);
    check_ts(m->actions[1]->createtimer->fireat, 1700000500, 0);

    REQUIRE(m->actions[2]->workflow_action_type_case ==
            WORKFLOW_ACTION__WORKFLOW_ACTION_TYPE_CREATE_CHILD_WORKFLOW);
    const CreateChildWorkflowAction *cc = m->actions[2]->createchildworkflow;
    CHECK_EQ_STR(cc->instanceid, "child-1");
    CHECK_EQ_STR(cc->name, "Child");
    CHECK_SV(cc->input, "{}");

    REQUIRE(m->actions[3]->workflow_action_type_case == WORKFLOW_ACTION__WORKFLOW_ACTION_TYPE_SEND_EVENT);
    const SendEventAction *se = m->actions[3]->sendevent;
    check_instance(se->instance, "other", NULL);
    CHECK_EQ_STR(se->name, "ev");
    CHECK_SV(se->data, "d");

    REQUIRE(m->actions[4]->workflow_action_type_case ==
            WORKFLOW_ACTION__WORKFLOW_ACTION_TYPE_COMPLETE_WORKFLOW);
    const CompleteWorkflowAction *cw = m->actions[4]->completeworkflow;
    CHECK_EQ_INT(cw->workflowstatus, ORCHESTRATION_STATUS__ORCHESTRATION_STATUS_COMPLETED);
    CHECK_SV(cw->result, "done");
    const TaskFailureDetails *fd = cw->failuredetails;
    REQUIRE(fd && fd->innerfailure);
    CHECK_EQ_STR(fd->errortype, "E");
    CHECK_EQ_STR(fd->errormessage, "m");
    CHECK_SV(fd->stacktrace, "st");
    CHECK_EQ_STR(fd->innerfailure->errortype, "Inner");
    CHECK(fd->isnonretriable);
}

static void check_create_instance_request(const ProtobufCMessage *msg)
{
    const CreateInstanceRequest *m = (const void *)msg;
    CHECK_EQ_STR(m->instanceid, "wf-2");
    CHECK_EQ_STR(m->name, "MyWorkflow");
    CHECK_SV(m->version, "v2");
    CHECK_SV(m->input, "{}");
    check_ts(m->scheduledstarttimestamp, 1700000600, 7);
}

static void check_google_rpc_status(const ProtobufCMessage *msg)
{
    const Google__Rpc__Status *m = (const void *)msg;
    CHECK_EQ_INT(m->code, 3);
    CHECK_EQ_STR(m->message, "state store mystore is not found");
    REQUIRE(m->n_details == 2);

    CHECK_EQ_STR(m->details[0]->type_url, "type.googleapis.com/google.rpc.ErrorInfo");
    Google__Rpc__ErrorInfo *ei = google__rpc__error_info__unpack(NULL, m->details[0]->value.len,
                                                                 m->details[0]->value.data);
    REQUIRE(ei);
    CHECK_EQ_STR(ei->reason, "DAPR_STATE_NOT_FOUND");
    CHECK_EQ_STR(ei->domain, "dapr.io");
    CHECK_EQ_INT(ei->n_metadata, 1);
    CHECK_MAP_STR(ei, metadata, "appID", "myapp");
    google__rpc__error_info__free_unpacked(ei, NULL);

    CHECK_EQ_STR(m->details[1]->type_url, "type.googleapis.com/google.rpc.ResourceInfo");
    Google__Rpc__ResourceInfo *ri = google__rpc__resource_info__unpack(NULL, m->details[1]->value.len,
                                                                       m->details[1]->value.data);
    REQUIRE(ri);
    CHECK_EQ_STR(ri->resource_type, "state");
    CHECK_EQ_STR(ri->resource_name, "mystore");
    CHECK_EQ_STR(ri->owner, "");
    CHECK_EQ_STR(ri->description, "state store mystore is not found");
    google__rpc__resource_info__free_unpacked(ri, NULL);
}

static void check_topic_event_bulk_request(const ProtobufCMessage *msg)
{
    const RT(TopicEventBulkRequest) *m = (const void *)msg;
    CHECK_EQ_STR(m->id, "bulk-1");
    CHECK_MAP_STR(m, metadata, "bulk", "true");
    CHECK_EQ_STR(m->topic, "orders");
    CHECK_EQ_STR(m->pubsub_name, "pubsub");
    CHECK_EQ_STR(m->type, "com.dapr.event.sent");
    CHECK_EQ_STR(m->path, "/bulk");
    REQUIRE(m->n_entries == 2);

    const RT(TopicEventBulkRequestEntry) *e = m->entries[0];
    CHECK_EQ_STR(e->entry_id, "e1");
    REQUIRE(e->event_case == DAPR__PROTO__RUNTIME__V1__TOPIC_EVENT_BULK_REQUEST_ENTRY__EVENT_BYTES);
    CHECK_BYTES(e->bytes, "raw");
    CHECK_EQ_STR(e->content_type, "text/plain");
    CHECK_MAP_STR(e, metadata, "m", "1");

    e = m->entries[1];
    CHECK_EQ_STR(e->entry_id, "e2");
    CHECK_EQ_STR(e->content_type, "application/cloudevents+json");
    REQUIRE(e->event_case == DAPR__PROTO__RUNTIME__V1__TOPIC_EVENT_BULK_REQUEST_ENTRY__EVENT_CLOUD_EVENT);
    const RT(TopicEventCERequest) *ce = e->cloud_event;
    CHECK_EQ_STR(ce->id, "ce-2");
    CHECK_EQ_STR(ce->source, "src");
    CHECK_EQ_STR(ce->type, "t");
    CHECK_EQ_STR(ce->spec_version, "1.0");
    CHECK_EQ_STR(ce->data_content_type, "application/json");
    CHECK_BYTES(ce->data, "{}");
    REQUIRE(ce->extensions);
    const Google__Protobuf__Value *v = MAP(ce->extensions, fields, "flag");
    REQUIRE(v && v->kind_case == GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE);
    CHECK(v->bool_value);
}

static void check_conversation_request_alpha2(const ProtobufCMessage *msg)
{
    const RT(ConversationRequestAlpha2) *m = (const void *)msg;
    CHECK_EQ_STR(m->name, "llm");
    REQUIRE(m->_context_id_case == DAPR__PROTO__RUNTIME__V1__CONVERSATION_REQUEST_ALPHA2___CONTEXT_ID_CONTEXT_ID);
    CHECK_EQ_STR(m->context_id, "ctx-1");
    REQUIRE(m->n_inputs == 1 && m->inputs[0]->n_messages == 2);
    const RT(ConversationInputAlpha2) *in = m->inputs[0];
    CHECK_EQ_INT(in->_scrub_pii_case, DAPR__PROTO__RUNTIME__V1__CONVERSATION_INPUT_ALPHA2___SCRUB_PII_SCRUB_PII);
    CHECK(in->scrub_pii);

    REQUIRE(in->messages[0]->message_types_case == DAPR__PROTO__RUNTIME__V1__CONVERSATION_MESSAGE__MESSAGE_TYPES_OF_USER);
    const RT(ConversationMessageOfUser) *u = in->messages[0]->of_user;
    CHECK_EQ_INT(u->_name_case, DAPR__PROTO__RUNTIME__V1__CONVERSATION_MESSAGE_OF_USER___NAME_NAME);
    CHECK_EQ_STR(u->name, "bob");
    REQUIRE(u->n_content == 1);
    CHECK_EQ_STR(u->content[0]->text, "hi");

    REQUIRE(in->messages[1]->message_types_case ==
            DAPR__PROTO__RUNTIME__V1__CONVERSATION_MESSAGE__MESSAGE_TYPES_OF_ASSISTANT);
    const RT(ConversationMessageOfAssistant) *as = in->messages[1]->of_assistant;
    CHECK_EQ_INT(as->_name_case, DAPR__PROTO__RUNTIME__V1__CONVERSATION_MESSAGE_OF_ASSISTANT___NAME__NOT_SET);
    REQUIRE(as->n_content == 1 && as->n_tool_calls == 1);
    CHECK_EQ_STR(as->content[0]->text, "hello");
    const RT(ConversationToolCalls) *tc = as->tool_calls[0];
    REQUIRE(tc->_id_case == DAPR__PROTO__RUNTIME__V1__CONVERSATION_TOOL_CALLS___ID_ID);
    CHECK_EQ_STR(tc->id, "call-1");
    REQUIRE(tc->tool_types_case == DAPR__PROTO__RUNTIME__V1__CONVERSATION_TOOL_CALLS__TOOL_TYPES_FUNCTION);
    CHECK_EQ_STR(tc->function->name, "f");
    CHECK_EQ_STR(tc->function->arguments, "{}");

    check_any_string(MAP(m, parameters, "p"), "v");
    CHECK_MAP_STR(m, metadata, "m", "v");
    /* scrub_pii = false and temperature set explicitly */
    CHECK_EQ_INT(m->_scrub_pii_case, DAPR__PROTO__RUNTIME__V1__CONVERSATION_REQUEST_ALPHA2___SCRUB_PII_SCRUB_PII);
    CHECK_EQ_INT(m->scrub_pii, 0);
    CHECK_EQ_INT(m->_temperature_case, DAPR__PROTO__RUNTIME__V1__CONVERSATION_REQUEST_ALPHA2___TEMPERATURE_TEMPERATURE);
    CHECK(m->temperature == 0.5);
    REQUIRE(m->n_tools == 1);
    REQUIRE(m->tools[0]->tool_types_case == DAPR__PROTO__RUNTIME__V1__CONVERSATION_TOOLS__TOOL_TYPES_FUNCTION);
    const RT(ConversationToolsFunction) *f = m->tools[0]->function;
    CHECK_EQ_STR(f->name, "f");
    CHECK_EQ_INT(f->_description_case, DAPR__PROTO__RUNTIME__V1__CONVERSATION_TOOLS_FUNCTION___DESCRIPTION_DESCRIPTION);
    CHECK_EQ_STR(f->description, "d");
    REQUIRE(f->parameters);
    const Google__Protobuf__Value *v = MAP(f->parameters, fields, "type");
    REQUIRE(v && v->kind_case == GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE);
    CHECK_EQ_STR(v->string_value, "object");
    REQUIRE(m->_tool_choice_case == DAPR__PROTO__RUNTIME__V1__CONVERSATION_REQUEST_ALPHA2___TOOL_CHOICE_TOOL_CHOICE);
    CHECK_EQ_STR(m->tool_choice, "auto");
}

static void check_encrypt_request(const ProtobufCMessage *msg)
{
    const RT(EncryptRequest) *m = (const void *)msg;
    const RT(EncryptRequestOptions) *o = m->options;
    REQUIRE(o && m->payload);
    CHECK_EQ_STR(o->component_name, "crypto");
    CHECK_EQ_STR(o->key_name, "key1");
    CHECK_EQ_STR(o->key_wrap_algorithm, "RSA");
    CHECK_EQ_STR(o->data_encryption_cipher, "aes-gcm");
    CHECK(o->omit_decryption_key_name);
    CHECK_EQ_STR(o->decryption_key_name, "key2");
    CHECK_BYTES(m->payload->data, "secret");
    CHECK_EQ_INT(m->payload->seq, 3);
}

/* ---- byte comparison modulo field order ---- */

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void buf_put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_varint(struct buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    buf_put(b, t, n);
}

static int read_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *off < len; shift += 7) {
        uint8_t c = p[(*off)++];
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return 0;
    }
    return -1;
}

struct wfield {
    uint32_t num, wt;
    size_t start, end;         /* whole field, tag included */
    size_t pstart, plen;       /* payload of length-delimited fields */
};

/* Append `p` to `out` with the fields of this message and of every nested
 * message (as known to `desc`) stably sorted by field number. */
static int canon(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len, struct buf *out)
{
    size_t cap = 16, n = 0, off = 0;
    struct wfield *f = malloc(cap * sizeof(*f));
    int rc = 0;
    while (off < len) {
        struct wfield w = {.start = off};
        uint64_t tag, v;
        if (read_varint(p, len, &off, &tag)) { rc = -1; break; }
        w.num = (uint32_t)(tag >> 3);
        w.wt = (uint32_t)(tag & 7);
        if (w.wt == 0) {
            if (read_varint(p, len, &off, &v)) { rc = -1; break; }
        } else if (w.wt == 1 || w.wt == 5) {
            off += w.wt == 1 ? 8 : 4;
        } else if (w.wt == 2) {
            if (read_varint(p, len, &off, &v) || v > len - off) { rc = -1; break; }
            w.pstart = off;
            w.plen = (size_t)v;
            off += (size_t)v;
        } else {
            rc = -1;
            break;
        }
        if (off > len) { rc = -1; break; }
        w.end = off;
        if (n == cap)
            f = realloc(f, (cap *= 2) * sizeof(*f));
        /* insertion keeps equal numbers (repeated fields) in order */
        size_t i = n++;
        while (i > 0 && f[i - 1].num > w.num) {
            f[i] = f[i - 1];
            i--;
        }
        f[i] = w;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const ProtobufCFieldDescriptor *fd =
            desc ? protobuf_c_message_descriptor_get_field(desc, f[i].num) : NULL;
        if (f[i].wt == 2 && fd && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
            struct buf sub = {0};
            rc = canon(fd->descriptor, p + f[i].pstart, f[i].plen, &sub);
            buf_varint(out, ((uint64_t)f[i].num << 3) | 2);
            buf_varint(out, sub.len);
            buf_put(out, sub.p, sub.len);
            free(sub.p);
        } else {
            buf_put(out, p + f[i].start, f[i].end - f[i].start);
        }
    }
    free(f);
    return rc;
}

/* The comparator itself: reordered fields compare equal, changed bytes do not. */
static void check_canon(void)
{
    /* TopicEventRequest{id="i", data=7:"x", topic=6:"t"} in declaration order,
     * then the same with the fields sorted, then with a changed value. */
    static const uint8_t decl[] = {0x0a, 1, 'i', 0x3a, 1, 'x', 0x32, 1, 't'};
    static const uint8_t sorted[] = {0x0a, 1, 'i', 0x32, 1, 't', 0x3a, 1, 'x'};
    static const uint8_t other[] = {0x0a, 1, 'i', 0x32, 1, 'u', 0x3a, 1, 'x'};
    /* SubscribeTopicEventsResponseAlpha1{event_message = the above}: nested */
    static const uint8_t nested_decl[] = {0x12, 9, 0x0a, 1, 'i', 0x3a, 1, 'x', 0x32, 1, 't'};
    static const uint8_t nested_sorted[] = {0x12, 9, 0x0a, 1, 'i', 0x32, 1, 't', 0x3a, 1, 'x'};
    const ProtobufCMessageDescriptor *te = &dapr__proto__runtime__v1__topic_event_request__descriptor;
    const ProtobufCMessageDescriptor *resp =
        &dapr__proto__runtime__v1__subscribe_topic_events_response_alpha1__descriptor;
    struct buf a = {0}, b = {0}, c = {0}, d = {0}, e = {0};
    CHECK(canon(te, decl, sizeof decl, &a) == 0);
    CHECK(canon(te, sorted, sizeof sorted, &b) == 0);
    CHECK(canon(te, other, sizeof other, &c) == 0);
    CHECK(canon(resp, nested_decl, sizeof nested_decl, &d) == 0);
    CHECK(canon(resp, nested_sorted, sizeof nested_sorted, &e) == 0);
    CHECK(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
    CHECK(b.len == c.len && memcmp(b.p, c.p, b.len) != 0);
    CHECK(d.len == e.len && memcmp(d.p, e.p, d.len) == 0);
    free(a.p);
    free(b.p);
    free(c.p);
    free(d.p);
    free(e.p);
}

/* ---- driver ---- */

struct vector_def {
    const char *name;
    const ProtobufCMessageDescriptor *desc;
    void (*check)(const ProtobufCMessage *m);
    int seen;
};

#define V(name, desc) {#name, &desc, check_##name, 0}
static struct vector_def defs[] = {
    V(get_state_request, dapr__proto__runtime__v1__get_state_request__descriptor),
    V(save_state_request, dapr__proto__runtime__v1__save_state_request__descriptor),
    V(execute_state_transaction_request, dapr__proto__runtime__v1__execute_state_transaction_request__descriptor),
    V(get_metadata_response, dapr__proto__runtime__v1__get_metadata_response__descriptor),
    V(publish_event_request, dapr__proto__runtime__v1__publish_event_request__descriptor),
    V(topic_event_request, dapr__proto__runtime__v1__topic_event_request__descriptor),
    V(subscribe_topic_events_initial, dapr__proto__runtime__v1__subscribe_topic_events_request_alpha1__descriptor),
    V(subscribe_topic_events_processed, dapr__proto__runtime__v1__subscribe_topic_events_request_alpha1__descriptor),
    V(invoke_service_request, dapr__proto__runtime__v1__invoke_service_request__descriptor),
    V(internal_invoke_request, dapr__proto__internals__v1__internal_invoke_request__descriptor),
    V(placement_host, dapr__proto__placement__v1__host__descriptor),
    V(placement_order, dapr__proto__placement__v1__placement_order__descriptor),
    V(register_actor_reminder_request, dapr__proto__runtime__v1__register_actor_reminder_request__descriptor),
    V(schedule_job_request, dapr__proto__runtime__v1__schedule_job_request__descriptor),
    V(work_item_workflow, work_item__descriptor),
    V(work_item_activity, work_item__descriptor),
    V(workflow_response, workflow_response__descriptor),
    V(create_instance_request, create_instance_request__descriptor),
    V(google_rpc_status, google__rpc__status__descriptor),
    V(topic_event_bulk_request, dapr__proto__runtime__v1__topic_event_bulk_request__descriptor),
    V(conversation_request_alpha2, dapr__proto__runtime__v1__conversation_request_alpha2__descriptor),
    V(encrypt_request, dapr__proto__runtime__v1__encrypt_request__descriptor),
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static uint8_t *unhex(const char *s, size_t *len)
{
    size_t n = strlen(s);
    if (n % 2)
        return NULL;
    uint8_t *out = malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

static void run_vector(struct vector_def *d, const char *type, const uint8_t *wire, size_t len)
{
    int before = test_failures;
    d->seen++;
    CHECK_EQ_STR(d->desc->name, type);
    ProtobufCMessage *m = protobuf_c_message_unpack(d->desc, NULL, len, wire);
    if (!m) {
        fprintf(stderr, "%s: protobuf-c could not decode %zu bytes\n", d->name, len);
        test_failures++;
        return;
    }
    CHECK(protobuf_c_message_check(m));
    d->check(m);

    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *out = malloc(n ? n : 1);
    CHECK_EQ_INT(protobuf_c_message_pack(m, out), n);
    const char *how = "identical";
    if (n != len || memcmp(out, wire, len)) {
        struct buf a = {0}, b = {0};
        int ra = canon(d->desc, wire, len, &a), rb = canon(d->desc, out, n, &b);
        if (ra || rb || a.len != b.len || memcmp(a.p, b.p, a.len)) {
            fprintf(stderr, "%s: re-encoded bytes differ (%zu vs %zu bytes)\n", d->name, n, len);
            test_failures++;
            how = "DIFFERENT";
        } else {
            how = "same fields, reordered";
        }
        free(a.p);
        free(b.p);
    }
    printf("%-34s %-55s %4zu bytes  round trip %s%s\n", d->name, type, len, how,
           test_failures > before ? "  [FAILED CHECKS]" : "");
    free(out);
    protobuf_c_message_free_unpacked(m, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s vectors.json\n", argv[0]);
        return 2;
    }
    check_canon();
    json_error_t err;
    json_t *root = json_load_file(argv[1], 0, &err);
    if (!root || !json_is_array(root)) {
        fprintf(stderr, "%s: %s (line %d)\n", argv[1], root ? "not an array" : err.text, err.line);
        return 1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(root, i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *type = json_string_value(json_object_get(v, "type"));
        const char *hex = json_string_value(json_object_get(v, "hex"));
        struct vector_def *d = NULL;
        for (size_t k = 0; name && k < sizeof(defs) / sizeof(defs[0]); k++)
            if (strcmp(defs[k].name, name) == 0)
                d = &defs[k];
        size_t len = 0;
        uint8_t *wire = hex ? unhex(hex, &len) : NULL;
        if (!d || !type || !wire) {
            fprintf(stderr, "vector %zu (%s): unknown name or malformed entry\n", i, name ? name : "?");
            test_failures++;
        } else {
            run_vector(d, type, wire, len);
        }
        free(wire);
    }
    for (size_t k = 0; k < sizeof(defs) / sizeof(defs[0]); k++)
        if (defs[k].seen != 1) {
            fprintf(stderr, "vector %s seen %d times (want 1)\n", defs[k].name, defs[k].seen);
            test_failures++;
        }
    json_decref(root);
    return test_result();
}
