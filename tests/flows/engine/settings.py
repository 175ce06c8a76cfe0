"""Engine settings and secrets on steps (function dialect): one of each setting, per target."""

from stepc import pipeline, step

SHM = {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}
IN_ZONE_A = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}


@step(
    outputs=["rows"],
    tags={"team": "ML Platform!", "tier": "gold"},
    secrets=["API_TOKEN", "DB_PASSWORD"],
    engine={
        "argo": {
            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "node_selector": {"pool": "highmem"},
            "affinity": {
                "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [IN_ZONE_A]}}
            },
            "volumes": [SHM, {"name": "data", "persistentVolumeClaim": {"claimName": "training-data"}}],
            "volume_mounts": [{"name": "shm", "mountPath": "/dev/shm"}, {"name": "data", "mountPath": "/data"}],
            "pod_spec_patch": '{"terminationGracePeriodSeconds": 60}',
            "labels": {"app.kubernetes.io/part-of": "training"},
            "secret": "training-secrets",
        },
        "airflow": {"queue": "highmem", "pool": "warehouse", "priority_weight": 10},
        "gha": {"runs_on": ["self-hosted", "linux"], "environment": "production"},
        "valohai": {"environment": "aws-eu-west-1-r5-2xlarge", "environment_variable_groups": ["warehouse"]},
    },
)
def extract():
    return [1, 2, 3]


@step(inputs=["rows"], tags=["nightly"])
def report(rows):
    print(len(rows))


pipeline("engine-settings", steps=[extract, report])
