"""What XLA says about a compiled evaluation: its memory plan and its size.

Recorded with every jit case: `xla_temp_bytes` (scratch buffers, the cross-check for the measured
peak memory), `xla_argument_bytes`, `xla_output_bytes`, and the program's size as
`program_ops` (HLO instructions after optimisation) and `program_text_bytes` (its HLO text),
which grow with the nesting depth of the AD strategy.
"""

from __future__ import annotations


def compiled_statistics(jitted, *args) -> dict:
    """Lower and compile `jitted` for `args` (cached by JAX) and read XLA's analyses."""
    compiled = jitted.lower(*args).compile()
    text = compiled.as_text() or ""
    stats = {
        "program_ops": sum(1 for line in text.splitlines() if " = " in line),
        "program_text_bytes": len(text),
    }
    memory = compiled.memory_analysis()
    if memory is not None:
        stats.update(
            xla_temp_bytes=int(memory.temp_size_in_bytes),
            xla_argument_bytes=int(memory.argument_size_in_bytes),
            xla_output_bytes=int(memory.output_size_in_bytes),
        )
    return stats
