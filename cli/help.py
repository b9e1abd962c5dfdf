"""Help as people expect it: ``-h`` everywhere, plain metavars (``--limit N``, ``--parent
NAME[@REV]``, ``--sort [a|b]``) instead of type names, help text printed as written (never read
as markup, so ``NAME[@REV]`` survives), and an Examples block under every command."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer
from typer.core import TyperArgument

from cli.output import Output, Raw

# one or more examples per command, by its path under `provreg`
EXAMPLES: dict[str, list[str]] = {
    "": [
        "provreg init",
        "provreg register ./chat --name acme/chat --parent acme/base --relation finetune",
        "provreg show acme/chat",
        "provreg list --sort downloads",
        "provreg --profile staging query lacking-safeguards",
    ],
    "init": ["provreg init"],
    "register": [
        "provreg register ./chat --name acme/chat --revision v1 "
        "--parent acme/base@main --relation finetune",
        "provreg register ./merged --name acme/merged --card ./merged/README.md",
        "provreg register ./chat --name acme/chat --sign acme.key",
    ],
    "show": ["provreg show acme/chat", "provreg show acme/chat@v1 --json | jq .digest"],
    "list": [
        "provreg list",
        "provreg list --namespace acme --search chat",
        "provreg list --status lacking,suspected --sort reach --limit 20",
        "provreg list --digest sha256:9f86d08… --json",
    ],
    "revisions": ["provreg revisions acme/chat"],
    "lineage": [
        "provreg lineage acme/base --down --depth 3",
        "provreg lineage acme/merged --up --format mermaid",
    ],
    "lineage graph": [
        "provreg lineage graph acme/base --down   (the same as: provreg lineage acme/base --down)",
    ],
    "lineage declare": [
        "provreg lineage declare acme/chat --parent acme/base@v1 --relation finetune",
        "provreg lineage declare acme/chat --parent acme/base --relation finetune --sign acme.key",
    ],
    "lineage retract": [
        "provreg lineage retract acme/chat --parent acme/base@v1 --reason 'wrong base named'",
    ],
    "identify": ["provreg identify ./download.safetensors", "provreg identify ./m.gguf --all"],
    "serve": ["provreg serve --host 127.0.0.1 --port 8000"],
    "attach-signature": [
        "provreg attach-signature acme/chat model.sig --public-key signer.pub",
        "provreg attach-signature acme/chat model.sig --trust-root trusted_root.json "
        "--identity release@acme.example --issuer https://accounts.google.com",
    ],
    "verify": ["provreg verify acme/chat", "provreg verify acme/chat@v1 --path ./chat"],
    "audit": ["provreg audit", "provreg audit --json"],
    "safeguards": ["provreg safeguards acme/chat", "provreg safeguards acme/chat@v1 --json"],
    "worker": ["PROVREG_BROKER_URL=redis://127.0.0.1:6379/0 provreg worker --concurrency 2"],
    "login": [
        "provreg login --url https://provreg.example.org --token provreg_0123abcd4567_…",
        "provreg login --url http://127.0.0.1:8000 --profile local-server",
    ],
    "logout": ["provreg logout", "provreg logout --profile local-server"],
    "token create": [
        "provreg token create --scope admin",
        "provreg token create --scope publish --namespace acme --expires-days 90",
    ],
    "token list": ["provreg token list", "provreg token list --json"],
    "token revoke": ["provreg token revoke 0123abcd4567"],
    "keys generate": ["provreg keys generate --out acme.key"],
    "keys add": [
        "provreg keys add acme acme.key.pub",
        "provreg keys add lab lab.pub --role evaluator",
    ],
    "keys list": ["provreg keys list", "provreg keys list --namespace acme"],
    "keys revoke": ["provreg keys revoke 5f2c…"],
    "log checkpoint": ["provreg log checkpoint"],
    "log prove": ["provreg log prove 12"],
    "log consistency": ["provreg log consistency --from 10"],
    "eval add": [
        "provreg eval add acme/chat --benchmark harmbench --metric asr --value 0.12 "
        "--stderr 0.01 --samples 400",
    ],
    "eval import": [
        "provreg eval import results.json --model acme/chat",
        "provreg eval import README.md --model acme/chat --format model-index",
    ],
    "eval retract": ["provreg eval retract 42 --reason 'contaminated test split'"],
    "eval supersede": [
        "provreg eval supersede 43 --value 0.12 --stderr 0.01 --reason 'rescored, judge fixed'",
    ],
    "eval list": ["provreg eval list acme/chat", "provreg eval list --all --limit 20"],
    "query lacking-safeguards": [
        "provreg query lacking-safeguards",
        "provreg query lacking-safeguards --descendant-of acme/base --sort reach",
        "provreg query lacking-safeguards --format csv > lacking.csv",
    ],
    "advisory add": [
        "provreg advisory add acme/chat --severity high --summary 'refusals removed'",
    ],
    "advisory list": ["provreg advisory list"],
    "advisory affected": ["provreg advisory affected 3"],
    "downloads show": ["provreg downloads show acme/chat"],
    "downloads record": ["provreg downloads record acme/chat --count 1200 --at 2026-11-01"],
    "downloads ingest": ["provreg downloads ingest downloads.csv"],
    "hub sync": ["provreg hub sync meta-llama/Llama-3.1-8B --depth 2 --fingerprint"],
    "hub watch": [
        "provreg hub watch meta-llama/Llama-3.1-8B --interval 60",
        "provreg hub watch meta-llama/Llama-3.1-8B --scan --search llama --fingerprint",
    ],
    "hub scan": ["provreg hub scan meta-llama/Llama-3.1-8B --search llama --limit 200"],
    "hub jobs": ["provreg hub jobs"],
    "export": [
        "provreg export acme/chat --format cyclonedx --out chat.cdx.json",
        "provreg export acme/chat@v1 --format spdx > chat.spdx.json",
    ],
    "dump": ["provreg dump --out registry.jsonl", "provreg dump > registry.jsonl"],
    "restore": ["PROVREG_DATABASE_URL=postgresql://… provreg restore registry.jsonl"],
    "webhook add": [
        'provreg webhook add https://hooks.example.org/provreg --secret "$SECRET" '
        "--on new-descendant,status-lacking,advisory --under acme/base",
    ],
    "webhook list": ["provreg webhook list", "provreg webhook list --json"],
    "webhook remove": ["provreg webhook remove 3"],
    "webhook deliveries": ["provreg webhook deliveries", "provreg webhook deliveries 3"],
    "completion": [
        "provreg completion bash > ~/.local/share/bash-completion/completions/provreg",
        "provreg completion zsh > ~/.zfunc/_provreg",
    ],
}

# metavars of options by name, where the upper-cased name would not say it
_OPTION_METAVARS = {
    "--limit": "N",
    "--depth": "N",
    "--top": "K",
    "--count": "N",
    "--samples": "N",
    "--min-downloads": "N",
    "--expires-days": "DAYS",
    "--iterations": "N",
    "--concurrency": "N",
    "--port": "PORT",
    "--name": "NAME",
    "--model": "NAME[@REV]",
    "--out": "FILE",
    "--public-key": "PEM",
    "--path": "DIR",
    "--card": "README.md",
    "--from": "SIZE",
    "--reason": "TEXT",
    "--value": "X",
    "--stderr": "S",
}


class _PlainArgument(TyperArgument):
    """An argument shown by its metavar alone: ``PATH``, not ``{path}`` or ``path <path>``."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 and not name.endswith("...") else "")


def polish(command: Any, path: str = "") -> None:
    """Apply plain help, metavars and examples to ``command`` and everything under it."""
    command.rich_markup_mode = None
    for param in command.params:
        if isinstance(param, TyperArgument):
            if param.metavar is None:
                param.metavar = param.name.upper()
            param.__class__ = _PlainArgument
        elif param.param_type_name == "option" and not param.is_flag and param.metavar is None:
            param.metavar = _option_metavar(param)
    lines = EXAMPLES.get(path)
    if lines:
        command.epilog = "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
    for name, sub in getattr(command, "commands", {}).items():
        polish(sub, f"{path} {name}".strip())


def _option_metavar(option: Any) -> str:
    descriptor = getattr(option, "type_descriptor", None)
    choices = getattr(descriptor, "choices", None) if getattr(descriptor, "is_choice", 0) else None
    if choices:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in choices) + "]"
    long = max(option.opts, key=len)
    return _OPTION_METAVARS.get(long, long.lstrip("-").replace("-", "_").upper())


def completion(
    shell: Annotated[
        Literal["bash", "zsh", "fish", "powershell"],
        typer.Argument(help="the shell to complete in"),
    ],
) -> Output:
    """Print the shell completion script for SHELL (--install-completion installs it for the
    shell it detects)."""
    from typer.completion import get_completion_script

    script = get_completion_script(
        prog_name="provreg", complete_var="_PROVREG_COMPLETE", shell=shell
    )
    return Output({"shell": shell, "script": script}, view=lambda d: [Raw(d["script"] + "\n")])
