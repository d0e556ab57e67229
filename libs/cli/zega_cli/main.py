"""`zega up` runs the local stack until Ctrl-C/SIGTERM; `zega demo` takes a user from 0 examples to a
trained adapter; `zega token` asks the gateway for a user token."""

from __future__ import annotations

import argparse
import signal
import sys

from zega_cli.admin_token import ensure_admin_token
from zega_cli.config import StackSettings
from zega_cli.stack import DEFAULT_PORTS, Stack, free_ports


def build_stack(settings: StackSettings, use_free_ports: bool) -> tuple[Stack, str]:
    token = ensure_admin_token(settings.admin_token, settings.data_dir)
    ports = free_ports() if use_free_ports else dict(DEFAULT_PORTS, gateway_http=settings.http_port)
    nats_port = 0 if use_free_ports else settings.nats_port
    stack = Stack(settings.data_dir.resolve(), ports=ports, nats_port=nats_port, env={"ZEGA_ADMIN_TOKEN": token})
    return stack, token


def up(args: argparse.Namespace) -> int:
    settings = StackSettings()
    stack, token = build_stack(settings, args.free_ports)
    print(f"starting ZEGA in {stack.data_dir} ...", flush=True)
    stack.start(settings.startup_timeout_s)
    print(f"  nats-server   {stack.nats.url} (JetStream store {stack.data_dir / 'nats'})")
    for name, proc in stack.procs.items():
        print(f"  zega-{name:<10} {proc.listens}  ready")
    print(f"gateway: {stack.gateway_url}  (API docs {stack.gateway_url}/docs)")
    print(f"admin token: {token}  (kept in {stack.data_dir / 'admin-token'})")
    print(f"logs: {stack.data_dir / 'logs'}   Ctrl-C stops everything.", flush=True)
    stop = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    try:
        received = signal.sigwait(stop)
        print(f"\n{signal.Signals(received).name}: stopping ...", flush=True)
    finally:
        stack.stop()
    print("stopped.")
    return 0


def demo(args: argparse.Namespace) -> int:
    from zega_cli.demo import run_demo

    return run_demo(StackSettings(), quick=args.quick)


def settings_cmd(args: argparse.Namespace) -> int:
    from zega_cli.settings_table import markdown

    print(markdown())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zega", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start nats-server and the five services; Ctrl-C stops them")
    p_up.add_argument("--free-ports", action="store_true", help="pick free ports instead of the defaults")
    p_up.set_defaults(func=up)
    p_demo = sub.add_parser("demo", help="0 -> 50 examples -> a trained adapter -> generations, side by side")
    p_demo.add_argument("--quick", action="store_true", help="fewer training steps (CI)")
    p_demo.set_defaults(func=demo)
    p_settings = sub.add_parser("settings", help="print every ZEGA_* setting as a Markdown table")
    p_settings.set_defaults(func=settings_cmd)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
