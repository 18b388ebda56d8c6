/*
 * libdapr — Dapr's building blocks as an embeddable C library.
 * Umbrella header: include this one.
 */
#ifndef DAPR_DAPR_H
#define DAPR_DAPR_H

#include "common.h"
#include "runtime.h"
#include "state.h"
#include "component.h"
#include "invoke.h"
#include "pubsub.h"
#include "actors.h"

#endif
