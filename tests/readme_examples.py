"""Print the example outputs the README shows, from real runs against the fake API server.

    python -m tests.readme_examples

Each block is the command as a user types it, then what it printed (stdout, then
stderr). Registry probes are off (--no-probe, --no-verify): the examples' registries
are not reachable from a test machine.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.integration.fix_helpers import fix
from tests.integration.live_helpers import (
    INTERNAL,
    doctor_in_process,
    example_objects,
    fake_kube,
    global_pull_secret,
    image_config,
    namespace,
    openshift_cluster,
    pod,
    service_account,
)

REPO = Path(__file__).resolve().parents[1]


def show(command: str, out: str, err: str = "") -> None:
    sys.stdout.write(f"$ {command}\n{out}{err}\n")


def main() -> int:
    tmp = Path(tempfile.mkdtemp())
    from kubectl_pullsecret.cli import main as cli

    show("kubectl pullsecret version", "", "")
    cli(["version"])
    print()
    with fake_kube(openshift=False) as api:
        api.add_all(example_objects("shop"))
        kc = api.kubeconfig(tmp / "kc-shop", namespace="shop")
        run = doctor_in_process("-n", "shop", "--no-probe", kubeconfig=kc)
        show("kubectl pullsecret doctor -n shop --no-probe", run.out, run.err)
        run = doctor_in_process("pod/api-7d4b9c-2xk8p", "-n", "shop", "--no-probe", "-o", "json", kubeconfig=kc)
        show("kubectl pullsecret doctor pod/... -n shop --no-probe -o json", run.out[:1500], run.err)
        run = fix("-n", "shop", "--no-probe", kubeconfig=kc)
        show("kubectl pullsecret fix -n shop", run.out, run.err)
        run = fix("link", "regcred", "-n", "shop", "--no-probe", kubeconfig=kc)
        show("kubectl pullsecret fix link regcred -n shop", run.out, run.err)
        run = fix("create", "acme-pull", "--docker-server", "registry.example.com", "--docker-username", "bot",
                  "--docker-password-stdin", "--no-verify", "--link", "default", "-n", "shop", "--no-probe",
                  kubeconfig=kc, stdin="s3cret\n")
        show("kubectl pullsecret fix create acme-pull --docker-server registry.example.com --docker-username bot "
             "--docker-password-stdin --no-verify --link default -n shop < password.txt", run.out, run.err)
        run = fix("restart", "deployment/web", "-n", "shop", "--no-probe", "--wait", "0", kubeconfig=kc)
        show("kubectl pullsecret fix restart deployment/web -n shop", run.out, run.err)
    run = doctor_in_process("--image", "quay.io/acme/web:1.2", "--authfile",
                            str(REPO / "examples" / "authfile" / "config.json"), "--no-probe")
    show("kubectl pullsecret doctor --image quay.io/acme/web:1.2 --authfile examples/authfile/config.json "
         "--no-probe", run.out, run.err)
    with fake_kube(openshift=True) as api:
        openshift_cluster(api, [namespace("a"), namespace("b"), service_account("default", "a"),
                                service_account("default", "b"), pod("web-0", "a", f"{INTERNAL}/b/app:1"),
                                image_config(), global_pull_secret()])
        kc = api.kubeconfig(tmp / "kc-ocp", namespace="b")
        run = fix("grant", "--from-namespace", "a", "--sa", "default", "-n", "b", "--no-probe", kubeconfig=kc)
        show("oc pullsecret fix grant --from-namespace a --sa default -n b", run.out, run.err)
        run = fix("global", "set", "--registry", "registry.example.com", "--username", "bot", "--password-stdin",
                  "--no-verify", "--yes", "--wait", "0", "--backup-dir", str(tmp / "backups"), "--no-probe",
                  kubeconfig=kc, stdin="s3cret\n")
        show("oc pullsecret fix global set --registry registry.example.com --username bot --password-stdin "
             "--yes < password.txt", run.out.replace(str(tmp), "~/.kube/pullsecret-backups/.."), run.err)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
