#!/bin/sh
# Creates the namespace and registers the search attributes operators filter jobs by
# (DECISIONS D9; workflows/search_attributes.py). Every step is skipped when already done.
set -eu

address=${TEMPORAL_ADDRESS:-temporal:7233}
namespace=${TEMPORAL_NAMESPACE:-default}

until temporal operator cluster health --address "$address" >/dev/null 2>&1; do
  echo "waiting for Temporal at $address"
  sleep 2
done

temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1 \
  || temporal operator namespace create --address "$address" --namespace "$namespace" \
       --retention "${TEMPORAL_RETENTION:-7d}"

existing=$(temporal operator search-attribute list --address "$address" --namespace "$namespace")
for name in JobType ProductionPath JobStatus OrgId MemberId; do
  if echo "$existing" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    temporal operator search-attribute create --address "$address" --namespace "$namespace" \
      --name "$name" --type Keyword
  fi
done
echo "namespace $namespace ready with its search attributes"
