# shellcheck shell=bash
# bench/invoke.sh: the "invoke" suite of bench/run (service invocation). Sourced by bench/run
# after its common setup (flags, packages, build, pinning, $TMP, helpers); not run on its own.
#
# Targets, all POST with a BODY_SIZE-byte JSON body, answered by the same nginx "app" with a
# BODY_SIZE-byte JSON body:
#   inv-direct   load → app (nginx, 1 worker, POST /echo → return 200 '<body>')
#   inv-nginx    load → nginx reverse proxy (1 worker) → app
#   inv-haproxy  load → haproxy (nbthread 1) → app
#   inv-dapr1    load → daprd A (--app-id benchapp --app-port <app>) /v1.0/invoke/benchapp/method/echo → app
#   inv-dapr2    load → daprd B (--app-id benchcaller) /v1.0/invoke/benchapp/method/echo
#                     → daprd A (internal gRPC, found by mDNS) → app
# Each target: wrk for the maximum throughput, then h2load --h1 at a fixed RATE for latency and
# CPU time per request of every hop process.

# ports 7..18 of the 19 picked by bench/run
P_IAPP=${PORTS[7]} P_INGX=${PORTS[8]} P_IHAP=${PORTS[9]}
P_A1H=${PORTS[10]} P_A1G=${PORTS[11]} P_A1I=${PORTS[12]}
P_A2H=${PORTS[13]} P_A2G=${PORTS[14]} P_A2I=${PORTS[15]}
P_BH=${PORTS[16]} P_BG=${PORTS[17]} P_BI=${PORTS[18]}

INV_NOTES=()
INV_EXTRA=()
inv_note() { INV_NOTES+=("$*"); log "note: $*"; }

json_body() { # size filler -> a JSON object of exactly size bytes
    python3 -c '
import sys
n = int(sys.argv[1]); head = "{\"id\":\"bench\",\"pad\":\""; tail = "\"}"
sys.stdout.write(head + sys.argv[2] * max(0, n - len(head) - len(tail)) + tail)' "$1" "$2"
}

inv_setup() {
    INV_RESP="$(json_body "$BODY_SIZE" x)"
    json_body "$BODY_SIZE" y >"$TMP/inv-req.json"
    mkdir -p "$TMP/inv-rows" "$TMP/inv-res" # inv-res: an empty resources dir for daprd
    local body_cfg="client_max_body_size 64k; client_body_buffer_size 16k;"
    nginx_conf "$TMP/inv-app" "    server {
        listen 127.0.0.1:$P_IAPP;
        $body_cfg
        location = /echo { default_type application/json; return 200 '$INV_RESP'; }
    }"
    nginx_conf "$TMP/inv-proxy" "    upstream app { server 127.0.0.1:$P_IAPP; keepalive 64; keepalive_requests 100000000; }
    server {
        listen 127.0.0.1:$P_INGX;
        $body_cfg
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"
    cat >"$TMP/inv-haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
    http-reuse always
frontend fe
    bind 127.0.0.1:$P_IHAP
    default_backend be
backend be
    server app 127.0.0.1:$P_IAPP
EOF
}

# inv_post url [outfile] -> prints the HTTP status; body in outfile
inv_post() {
    curl -s -m 5 -o "${2:-/dev/null}" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary @"$TMP/inv-req.json" "$1"
}

inv_check() { # name url: status 200 and exactly the app's body
    local code
    code="$(inv_post "$2" "$TMP/inv-check.out")"
    if [ "$code" != 200 ] || [ "$(cat "$TMP/inv-check.out")" != "$INV_RESP" ]; then
        log "$1: sanity POST $2 gave HTTP $code body '$(head -c 200 "$TMP/inv-check.out")', expected 200 and the ${#INV_RESP}-byte body"
        return 1
    fi
    log "$1: sanity POST ok (HTTP 200, ${#INV_RESP}-byte body)"
}

# inv_wait_200 name url: until a first 200 (10 s); notes how long it took and what came before
inv_wait_200() {
    local t0 code i seen=()
    t0="$(date +%s.%N)"
    for i in $(seq 100); do
        code="$(inv_post "$2" "$TMP/inv-wait.out")"
        if [ "$code" = 200 ]; then
            local dt; dt="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')"
            if [ ${#seen[@]} -gt 0 ]; then
                inv_note "$1: first HTTP 200 after $dt s; before it: ${seen[*]}"
            else
                log "$1: first call answered 200 after $dt s"
            fi
            INV_FIRST_200="$dt"
            return 0
        fi
        seen+=("$code$( [ -s "$TMP/inv-wait.out" ] && printf '(%s)' "$(head -c 120 "$TMP/inv-wait.out" | tr -d '\n')")")
        sleep 0.1
    done
    inv_note "$1: no HTTP 200 within 10 s; answers: $(printf '%s\n' "${seen[@]}" | sort | uniq -c | tr -s ' \n' ' ')"
    return 1
}

# inv_start_daprd app-id http grpc internal logfile [app-port] -> DPID
inv_start_daprd() {
    local args=(--app-id "$1" --dapr-http-port "$2" --dapr-grpc-port "$3" --dapr-internal-grpc-port "$4"
        --dapr-listen-addresses 127.0.0.1 --resources-path "$TMP/inv-res" --log-level info) i
    [ -n "${6:-}" ] && args+=(--app-port "$6")
    "${SRV[@]}" "$DAPRD" "${args[@]}" >"$5" 2>&1 &
    DPID=$!
    PIDS+=("$DPID")
    wait_port "$2" "$DPID" && wait_port "$4" "$DPID" || { cat "$5" >&2; return 1; }
    for i in $(seq 100); do
        [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/v1.0/healthz")" = 204 ] && return 0
        sleep 0.1
    done
    log "daprd $1: /v1.0/healthz is not 204 after 10 s"; cat "$5" >&2
    return 1
}

inv_daprd_log_notes() { # label logfile pid
    local errs warns
    errs="$(grep -ciE 'level=(error|fatal)|"level":"(error|fatal)"' "$2")"
    warns="$(grep -ciE 'level=warn|"level":"warn"' "$2")"
    cp "$2" "$BENCH/results/$(basename "$2").tmp"
    kill -0 "$3" 2>/dev/null ||
        inv_note "$1: daprd was NOT running after the load (see bench/results/$(basename "$2").tmp)"
    [ "$errs" -eq 0 ] || inv_note "$1: daprd logged $errs error line(s), first: $(grep -iE 'level=(error|fatal)' "$2" | head -2 | cut -c1-300 | tr '\n' ' ')"
    [ "$warns" -eq 0 ] || inv_note "$1: daprd logged $warns warning line(s), first: $(grep -iE 'level=warn' "$2" | head -2 | cut -c1-300 | tr '\n' ' ')"
}

hops_ticks() { local p; for p in "$@"; do printf '%s ' "$(cpu_ticks "$p")"; done; }

# inv_target id label url name=pid... : sanity check, wrk (max throughput), h2load at RATE
inv_target() {
    local id="$1" label="$2" url="$3"; shift 3
    local names=() pids=() h
    for h in "$@"; do names+=("${h%%=*}"); pids+=("${h#*=}"); done
    local to=$((DURATION + WARMUP + 30)) rc w0 w1 r0 r1 ok_after=1
    rm -f "$TMP/$id.json" "$TMP/$id.rate.json"
    if ! inv_check "$id" "$url"; then
        inv_emit_row "$id" "$label" "" "" "" "" "sanity check failed" "${names[@]}" -- "${pids[@]}"
        return 1
    fi
    local hp="${url#http://127.0.0.1:}" expect
    expect="$(PY http-size "${hp%%/*}" "/${hp#*/}" "$TMP/inv-req.json")"
    background_busy
    export BENCH_BODY_FILE="$TMP/inv-req.json" BENCH_DIR="$BENCH"
    # 1. maximum throughput: wrk, warm-up then the measured run
    timeout "$to" "${LOAD[@]}" wrk -t "$WRK_THREADS" -c "$WRK_CONNS" -d "${WARMUP}s" --timeout 5s \
        -s "$BENCH/wrk-post.lua" "$url" >"$TMP/$id.warm" 2>&1
    log "$id: wrk -t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s POST $url"
    w0="$(hops_ticks "${pids[@]}")"
    measure_begin
    timeout "$to" "${LOAD[@]}" wrk -t "$WRK_THREADS" -c "$WRK_CONNS" -d "${DURATION}s" --timeout 5s \
        --latency -s "$BENCH/wrk-post.lua" "$url" >"$TMP/$id.out" 2>&1
    rc=$?
    measure_end
    w1="$(hops_ticks "${pids[@]}")"
    cp "$TMP/$id.out" "$BENCH/results/$id.wrk.tmp"
    [ $rc -eq 0 ] || { log "$id: wrk exited $rc"; cat "$TMP/$id.out" >&2; }
    PY wrk "$TMP/$id.out" >"$TMP/$id.json" 2>"$TMP/$id.err" || { cat "$TMP/$id.err" >&2; rm -f "$TMP/$id.json"; }
    # 2. fixed rate: RATE_CONNS keep-alive connections × RATE/RATE_CONNS requests/s each, their
    #    timers staggered by 1/RATE s (-r 1 --rate-period), RATE × DURATION requests in all
    sleep 0.5
    local per=$((RATE / RATE_CONNS)) period=$((1000 / RATE)) n=$((RATE * DURATION))
    [ "$period" -ge 1 ] || period=1
    log "$id: h2load --h1 -c$RATE_CONNS --rps $per -r 1 --rate-period ${period}ms -n $n POST $url"
    r0="$(hops_ticks "${pids[@]}")"
    timeout "$to" "${LOAD[@]}" h2load --h1 -c "$RATE_CONNS" --rps "$per" -r 1 --rate-period "${period}ms" \
        -n "$n" -d "$TMP/inv-req.json" -H 'Content-Type: application/json' \
        --log-file="$TMP/$id.reqlog" "$url" >"$TMP/$id.rate.out" 2>&1
    rc=$?
    r1="$(hops_ticks "${pids[@]}")"
    cp "$TMP/$id.rate.out" "$BENCH/results/$id.h2load.tmp"
    [ $rc -eq 0 ] || { log "$id: h2load exited $rc"; cat "$TMP/$id.rate.out" >&2; }
    PY h2load "$TMP/$id.rate.out" "$TMP/$id.reqlog" >"$TMP/$id.rate.json" 2>"$TMP/$id.err" ||
        { cat "$TMP/$id.err" >&2; rm -f "$TMP/$id.rate.json"; }
    rm -f "$TMP/$id.reqlog"
    inv_check "$id" "$url" || { ok_after=0; inv_note "$id: answered wrongly after the load runs"; }
    inv_emit_row "$id" "$label" "$w0" "$w1" "$r0" "$r1" "" "${names[@]}" -- "${pids[@]}" \
        "expect_bytes=$expect" "ok_after=$ok_after" "${INV_EXTRA[@]+"${INV_EXTRA[@]}"}"
}

# inv_emit_row id label w0 w1 r0 r1 error names... -- pids... [key=value...]
INV_ROWN=0
inv_emit_row() {
    local id="$1" label="$2" w0="$3" w1="$4" r0="$5" r1="$6" err="$7"; shift 7
    local names=() pids=() hops=() i
    while [ $# -gt 0 ] && [ "$1" != -- ]; do names+=("$1"); shift; done
    shift
    for i in "${!names[@]}"; do pids+=("$1"); shift; done
    for i in "${!names[@]}"; do
        local alive=0
        kill -0 "${pids[$i]}" 2>/dev/null && alive=1
        hops+=("${names[$i]}|${pids[$i]}|$(mem_kb "${pids[$i]}" VmHWM)|$(mem_kb "${pids[$i]}" VmRSS)|$alive")
    done
    INV_ROWN=$((INV_ROWN + 1))
    ROW_ID="$id" ROW_LABEL="$label" ROW_ERR="$err" ROW_W0="$w0" ROW_W1="$w1" ROW_R0="$r0" ROW_R1="$r1" \
        ROW_WRK="$TMP/$id.json" ROW_RATE="$TMP/$id.rate.json" ROW_HZ="$CLK_TCK" \
        ROW_CORE_SRV="${CORE_SRV:-}" ROW_CORE_LOAD="${CORE_LOAD:-}" \
        ROW_BG_BUSY="${BG_BUSY:-}" ROW_BG_LOAD="${BG_LOAD:-}" \
        python3 - "${hops[@]}" "@@" "$@" >"$TMP/inv-rows/$(printf %02d $INV_ROWN)-$id.json" <<'EOF'
import json, os, sys
e = os.environ
args = sys.argv[1:]
cut = args.index("@@")
hops_raw, extra = args[:cut], args[cut + 1:]
def load(p):
    try:
        return json.load(open(p))
    except Exception:
        return None
def ticks(s):
    return [int(x) if x.isdigit() else None for x in s.split()] if s else []
row = {"id": e["ROW_ID"], "label": e["ROW_LABEL"], "wrk": load(e["ROW_WRK"]), "rate": load(e["ROW_RATE"]),
       "hz": int(e["ROW_HZ"])}
if e.get("ROW_ERR"):
    row["error"] = e["ROW_ERR"]
for k in ("CORE_SRV", "CORE_LOAD", "BG_BUSY", "BG_LOAD"):
    v = e.get("ROW_" + k, "")
    row[k.lower()] = float(v) if v else None
w0, w1, r0, r1 = (ticks(e["ROW_" + k]) for k in ("W0", "W1", "R0", "R1"))
row["hops"] = []
for i, h in enumerate(hops_raw):
    name, pid, hwm, rss, alive = h.split("|")
    def d(a, b):
        return b[i] - a[i] if i < len(a) and i < len(b) and a[i] is not None and b[i] is not None else None
    row["hops"].append({"name": name, "pid": int(pid), "hwm": int(hwm) if hwm else None,
                        "rss": int(rss) if rss else None, "alive": alive == "1",
                        "wrk_ticks": d(w0, w1), "rate_ticks": d(r0, r1)})
for kv in extra:
    k, v = kv.split("=", 1)
    row[k] = v
print(json.dumps(row))
EOF
}

invoke_suite() {
    log "invoke suite: app $P_IAPP, nginx proxy $P_INGX, haproxy $P_IHAP, daprd A http $P_A1H/$P_A2H internal $P_A1I/$P_A2I, daprd B http $P_BH internal $P_BI"
    inv_setup
    local app_master app ngx_master ngx hap da db rc=0

    # the app (and the direct target)
    "${SRV[@]}" nginx -p "$TMP/inv-app" -c "$TMP/inv-app/nginx.conf" >"$TMP/inv-app/stdout" 2>&1 &
    app_master=$!
    PIDS+=("$app_master")
    wait_port "$P_IAPP" "$app_master" || { cat "$TMP/inv-app/error.log" "$TMP/inv-app/stdout" >&2; log "app nginx did not start"; return 1; }
    app="$(nginx_worker "$app_master")" || { log "no app nginx worker"; return 1; }

    inv_target inv-direct "direct → app (nginx, 1 worker)" "http://127.0.0.1:$P_IAPP/echo" "app nginx worker=$app" || rc=1

    # nginx reverse proxy
    "${SRV[@]}" nginx -p "$TMP/inv-proxy" -c "$TMP/inv-proxy/nginx.conf" >"$TMP/inv-proxy/stdout" 2>&1 &
    ngx_master=$!
    PIDS+=("$ngx_master")
    if wait_port "$P_INGX" "$ngx_master" && ngx="$(nginx_worker "$ngx_master")"; then
        inv_target inv-nginx "nginx reverse proxy → app" "http://127.0.0.1:$P_INGX/echo" \
            "nginx proxy worker=$ngx" "app nginx worker=$app" || rc=1
    else
        cat "$TMP/inv-proxy/error.log" >&2
        inv_emit_row inv-nginx "nginx reverse proxy → app" "" "" "" "" "nginx proxy did not start" --; rc=1
    fi
    stop_pid "$ngx_master"

    # haproxy
    "${SRV[@]}" haproxy -db -f "$TMP/inv-haproxy.cfg" >"$TMP/inv-haproxy.out" 2>&1 &
    hap=$!
    PIDS+=("$hap")
    if wait_port "$P_IHAP" "$hap"; then
        inv_target inv-haproxy "haproxy reverse proxy → app (nbthread 1)" "http://127.0.0.1:$P_IHAP/echo" \
            "haproxy=$hap" "app nginx worker=$app" || rc=1
    else
        cat "$TMP/inv-haproxy.out" >&2
        inv_emit_row inv-haproxy "haproxy reverse proxy → app (nbthread 1)" "" "" "" "" "haproxy did not start" --; rc=1
    fi
    stop_pid "$hap"

    # daprd, one hop
    local url1="http://127.0.0.1:$P_A1H/v1.0/invoke/benchapp/method/echo"
    if inv_start_daprd benchapp "$P_A1H" "$P_A1G" "$P_A1I" "$TMP/inv-daprd-a1.log" "$P_IAPP" && da=$DPID &&
        inv_wait_200 "daprd one hop" "$url1"; then
        INV_EXTRA=("first_200=$INV_FIRST_200")
        inv_target inv-dapr1 "daprd, one hop → app" "$url1" "daprd A=$da" "app nginx worker=$app" || rc=1
        INV_EXTRA=()
        inv_daprd_log_notes "daprd one hop (A)" "$TMP/inv-daprd-a1.log" "$da"
    else
        inv_emit_row inv-dapr1 "daprd, one hop → app" "" "" "" "" "daprd did not start or answer 200" --; rc=1
    fi
    stop_pid "${da:-$DPID}"
    da="" db=""

    # daprd, two hops: fresh daprd A (its memory figures are its own) and daprd B
    local url2="http://127.0.0.1:$P_BH/v1.0/invoke/benchapp/method/echo"
    if inv_start_daprd benchapp "$P_A2H" "$P_A2G" "$P_A2I" "$TMP/inv-daprd-a2.log" "$P_IAPP" && da=$DPID &&
        inv_wait_200 "daprd A (for two hops)" "http://127.0.0.1:$P_A2H/v1.0/invoke/benchapp/method/echo" &&
        inv_start_daprd benchcaller "$P_BH" "$P_BG" "$P_BI" "$TMP/inv-daprd-b.log" && db=$DPID &&
        inv_wait_200 "daprd two hops (B → A)" "$url2"; then
        INV_EXTRA=("first_200=$INV_FIRST_200")
        inv_target inv-dapr2 "daprd, two hops: B → A → app" "$url2" \
            "daprd B=$db" "daprd A=$da" "app nginx worker=$app" || rc=1
        INV_EXTRA=()
        inv_daprd_log_notes "daprd two hops (A)" "$TMP/inv-daprd-a2.log" "$da"
        inv_daprd_log_notes "daprd two hops (B)" "$TMP/inv-daprd-b.log" "$db"
    else
        inv_emit_row inv-dapr2 "daprd, two hops: B → A → app" "" "" "" "" "daprd did not start or answer 200" --; rc=1
    fi
    [ -n "${db:-}" ] && stop_pid "$db"
    [ -n "${da:-}" ] && stop_pid "$da"
    stop_pid "$app_master"

    META_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" \
    META_CPU="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)" \
    META_NCPU="$NCPU" \
    META_MEM="$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo)" \
    META_KERNEL="Linux $(uname -r)" \
    META_DAPRD="$(daprd_desc)" \
    META_TOOLS="$(tool_versions)" \
    META_DURATION="$DURATION" META_WARMUP="$WARMUP" \
    META_WRK_THREADS="$WRK_THREADS" META_WRK_CONNS="$WRK_CONNS" \
    META_RATE="$RATE" META_RATE_CONNS="$RATE_CONNS" META_BODY_SIZE="$BODY_SIZE" \
    META_PINNING="$PINNING" \
    python3 - "$TMP/inv-rows" "${INV_NOTES[@]+"${INV_NOTES[@]}"}" >"$TMP/inv-results.json" <<'EOF'
import json, os, sys
meta = {k[5:].lower(): v for k, v in os.environ.items() if k.startswith("META_")}
d = sys.argv[1]
rows = [json.load(open(os.path.join(d, f))) for f in sorted(os.listdir(d))]
print(json.dumps({"meta": meta, "rows": rows, "notes": sys.argv[2:]}))
EOF
    PY invoke-report "$TMP/inv-results.json" >"$TMP/invoke-latest.md" || { log "invoke report failed"; return 1; }
    cp "$TMP/inv-results.json" "$BENCH/results/invoke-results.json.tmp"
    cp "$TMP/invoke-latest.md" "$BENCH/results/invoke-latest.md"
    echo
    cat "$TMP/invoke-latest.md"
    log "written to bench/results/invoke-latest.md (raw tool output: bench/results/inv-*.tmp)"

    python3 - "$TMP/inv-results.json" <<'EOF' || rc=1
import json, sys
d = json.load(open(sys.argv[1]))
bad = []
for r in d["rows"]:
    w, x = r.get("wrk"), r.get("rate")
    if r.get("error") or not w or not x or w["errors"] or x["errors"] or r.get("ok_after") != "1" \
            or not all(h["alive"] for h in r.get("hops", [])):
        bad.append(r["id"])
if bad:
    print(">>> invoke targets with errors or no result: " + ", ".join(bad), file=sys.stderr)
    sys.exit(1)
EOF
    return $rc
}
