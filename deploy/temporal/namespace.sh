#!/bin/sh
# encombot — the namespace and its custom search attributes (compose one-shot service
# `temporal-admin-tools`, image temporalio/admin-tools; the workers start only once it has
# succeeded). The server image does not create namespaces: this job does, with the retention
# of closed workflows (their encrypted payloads hold personal data), then registers every
# search attribute of domain/names.py SEARCH_ATTRIBUTES (tests/test_compose.py checks the list):
# a workflow that upserts an unregistered attribute retries its task forever.
#
# Idempotent: an existing namespace keeps its settings (change the retention with
# `temporal operator namespace update --retention …`), a registered attribute is left alone.
#
# Environment: TEMPORAL_ADDRESS (temporal:7233), TEMPORAL_NAMESPACE (default),
# TEMPORAL_NAMESPACE_RETENTION (720h), TEMPORAL_WAIT_S (180).
set -eu

addr=${TEMPORAL_ADDRESS:-temporal:7233}
ns=${TEMPORAL_NAMESPACE:-default}
retention=${TEMPORAL_NAMESPACE_RETENTION:-720h}
wait_s=${TEMPORAL_WAIT_S:-180}

# The search attributes of domain/names.py, NAME:Type.
ATTRIBUTES="EncombotStatus:Keyword EscalationReason:Keyword Sector:Keyword NeedsAgent:Bool WaitingSince:Datetime SmsPhoneKey:KeywordList CallIds:KeywordList AssignedTo:Keyword BookingKeys:KeywordList"

waited=0
until temporal operator cluster health --address "$addr" 2>/dev/null | grep -q SERVING; do
	if [ "$waited" -ge "$wait_s" ]; then
		echo "Temporal at $addr not serving after ${wait_s}s" >&2
		exit 1
	fi
	echo "waiting for Temporal at $addr"
	sleep 2
	waited=$((waited + 2))
done

if temporal operator namespace describe --address "$addr" --namespace "$ns" >/dev/null 2>&1; then
	echo "namespace $ns: exists"
elif out=$(temporal operator namespace create --address "$addr" --namespace "$ns" \
	--retention "$retention" 2>&1); then
	echo "namespace $ns: created (retention $retention)"
else
	case $out in
	*"already exists"* | *AlreadyExists* | *"already registered"*) echo "namespace $ns: exists" ;;
	*)
		echo "$out" >&2
		exit 1
		;;
	esac
fi

# A new namespace takes a moment to reach every service (namespace cache).
waited=0
until temporal operator search-attribute list --address "$addr" --namespace "$ns" >/dev/null 2>&1; do
	if [ "$waited" -ge "$wait_s" ]; then
		echo "namespace $ns not usable after ${wait_s}s" >&2
		exit 1
	fi
	sleep 2
	waited=$((waited + 2))
done

for spec in $ATTRIBUTES; do
	name=${spec%%:*}
	type=${spec#*:}
	if temporal operator search-attribute list --address "$addr" --namespace "$ns" | grep -qw "$name"; then
		echo "search attribute $name: already registered"
		continue
	fi
	if out=$(temporal operator search-attribute create --address "$addr" --namespace "$ns" \
		--name "$name" --type "$type" 2>&1); then
		echo "search attribute $name ($type): registered"
	else
		case $out in
		*"already exists"* | *AlreadyExists*) echo "search attribute $name: already exists" ;;
		*)
			echo "$out" >&2
			exit 1
			;;
		esac
	fi
done
temporal operator search-attribute list --address "$addr" --namespace "$ns"
