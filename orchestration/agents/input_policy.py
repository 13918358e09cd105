"""What `orch-tui run` answers an agent that asks when no person can: `agent_permissions`.

`reject` (the default) refuses every permission; `allow` allows each one once. A question
has no answer a policy could know, so it is dismissed either way (the agent is told so).
"""

from __future__ import annotations

from orch_tui.orchestration.events import InputAnswer, InputKind, InputRequest, Reply


def policy_answer(request: InputRequest, policy: str) -> InputAnswer:
    if request.kind is InputKind.PERMISSION and policy == "allow":
        return InputAnswer(Reply.ONCE)
    return InputAnswer(Reply.REJECT)


def policy_label(policy: str) -> str:
    return f"the headless policy (agent_permissions = {policy})"


def parse_typed_answer(request: InputRequest, typed: str) -> InputAnswer | None:
    """A person's answer typed at a prompt: once/always/reject (or o/a/r) for a permission;
    for a question an option's number or label, `reject`, or (if allowed) any text. None
    when it is not an answer to this request."""
    word = typed.strip()
    lowered = word.lower()
    if request.kind is InputKind.PERMISSION:
        for reply in (Reply.ONCE, Reply.ALWAYS, Reply.REJECT):
            if lowered in (reply.value, reply.value[0]):
                return InputAnswer(reply)
        return None
    if lowered in ("reject", "dismiss"):
        return InputAnswer(Reply.REJECT)
    if len(request.questions) != 1:
        parts = [part.strip() for part in word.split(";")]
        return InputAnswer(Reply.ANSWER, tuple(parts)) if len(parts) == len(request.questions) and all(parts) else None
    options = request.questions[0].options
    if lowered.isdigit() and 1 <= int(lowered) <= len(options):
        return InputAnswer(Reply.ANSWER, (options[int(lowered) - 1],))
    for option in options:
        if option.lower() == lowered:
            return InputAnswer(Reply.ANSWER, (option,))
    if word and request.typed_allowed:
        return InputAnswer(Reply.ANSWER, (word,))
    return None
