"""Stubs of the compiled module ``haplan._native`` (``python/src/lib.rs``).

Private: use the ``haplan`` package. Solves return the command line's JSON
object as Python data plus its text output.
"""

from typing import Any, Callable, ClassVar, Dict, List, Optional, Tuple, final

# The text and verdict of a check nested in a what-if, a diff, a headroom or a drain.
_Nested = Tuple[str, str]

__all__ = ["Pool", "__version__", "check_range", "import_pool", "render"]
__version__: str

def check_range(name: str, value: object) -> int: ...

@final
class Pool:
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __new__(cls, text: str | bytes, source: Optional[str] = None) -> Pool: ...
    @staticmethod
    def from_data(data: Any, source: Optional[str] = None) -> Pool: ...
    def __getnewargs__(self) -> Tuple[str]: ...
    def __eq__(self, other: object, /) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def host_names(self) -> List[str]: ...
    @property
    def vm_names(self) -> List[str]: ...
    @property
    def host_failures_to_tolerate(self) -> int: ...
    def to_json(self) -> str: ...
    def check(
        self,
        tolerate: Optional[int] = None,
        time_limit: Optional[float] = None,
        explain: bool = False,
        threads: Optional[int] = None,
        strategy: str = "full",
        max_time: Optional[float] = None,
    ) -> Tuple[Dict[str, Any], str, str]: ...
    def check_split(
        self,
        run: Callable[[List[List[str]]], Optional[List[str]]],
        parts: int,
        ahead: int = 0,
        tolerate: Optional[int] = None,
        time_limit: Optional[float] = None,
        explain: bool = False,
        threads: Optional[int] = None,
        strategy: str = "full",
    ) -> Tuple[Dict[str, Any], str, str]: ...
    def search_part(
        self, part: str, time_limit: Optional[float] = None, threads: Optional[int] = None
    ) -> str: ...
    def plan(
        self, failed: List[str], time_limit: Optional[float] = None
    ) -> Tuple[Dict[str, Any], str]: ...
    def agility(self, time_limit: Optional[float] = None) -> Dict[str, Any]: ...
    def whatif(
        self,
        changes: Any,
        source: Optional[str] = None,
        tolerate: Optional[int] = None,
        time_limit: Optional[float] = None,
        explain: bool = False,
        threads: Optional[int] = None,
        max_time: Optional[float] = None,
    ) -> Tuple[Dict[str, Any], str, str, _Nested, _Nested, Pool]: ...
    def diff(
        self,
        new: Pool,
        tolerate: Optional[int] = None,
        no_regress: bool = False,
        time_limit: Optional[float] = None,
        explain: bool = False,
        threads: Optional[int] = None,
        max_time: Optional[float] = None,
    ) -> Tuple[Dict[str, Any], str, str, _Nested, _Nested]: ...
    def headroom(
        self,
        vm: Any,
        storage: List[str] = ...,
        networks: List[str] = ...,
        tolerate: Optional[int] = None,
        time_limit: Optional[float] = None,
        threads: Optional[int] = None,
        max_time: Optional[float] = None,
    ) -> Tuple[Dict[str, Any], str, str, _Nested]: ...
    def drain(
        self,
        host: str,
        tolerate: Optional[int] = None,
        time_limit: Optional[float] = None,
        threads: Optional[int] = None,
        max_time: Optional[float] = None,
    ) -> Tuple[Dict[str, Any], str, str, Optional[_Nested]]: ...
    def tiers(
        self,
        tolerate: Optional[int] = None,
        time_limit: Optional[float] = None,
        threads: Optional[int] = None,
        max_time: Optional[float] = None,
    ) -> Tuple[Dict[str, Any], str, str]: ...
    def timing(
        self,
        tolerate: Optional[int] = None,
        boot_time_s: int = 60,
        concurrency: Optional[int] = None,
        fence_time_s: int = 0,
        fail: Optional[List[str]] = None,
        threads: Optional[int] = None,
        time_limit: Optional[float] = None,
    ) -> Tuple[Dict[str, Any], str, str]: ...

def render(kind: str, format: str, answer: str) -> str: ...
def import_pool(
    platform: str,
    files: List[Tuple[str, bytes]],
    name: Optional[str] = None,
    vsphere_sizing: str = "configured",
    cpu_overcommit: Optional[float] = None,
) -> Tuple[Pool, List[Tuple[str, str]]]: ...
