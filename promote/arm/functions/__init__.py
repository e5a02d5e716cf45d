"""ARM's template functions, as the compiler finds them: by lower-cased name in `FUNCTIONS`.

Each function takes (scope, args) with args evaluated, except lazy ones (`if`), which take the argument closures.
The functions are grouped by what they work on, one module each; importing this package imports them all, and
each registers its functions with `registry.arm_function`:

- `deployment`: what the template declares and where it is deployed (`parameters()`, `resourceId()` ...);
- `strings`: strings, encodings, `format()`, and the hashes (`uniqueString()`, `guid()`);
- `logic`: literals, conversions, comparisons, `if()` and arithmetic;
- `arrays`: arrays and objects (and strings where ARM accepts them too).

The ARM functions that an offline evaluator must refuse are listed in `registry`, each with the reason.
"""

from promote.arm.functions import arrays, deployment, logic, strings  # noqa: F401 (importing them registers them)
from promote.arm.functions.registry import FUNCTIONS, refusal

__all__ = ["FUNCTIONS", "refusal"]
