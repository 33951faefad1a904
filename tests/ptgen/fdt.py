"""A small flattened-devicetree reader for ptgen's tests, written apart from ptgen's (libfdt) so
that the tests' expectations do not come from the code under test.

Devicetree Specification v0.4: 5.2 (header: magic 0xd00dfeed, off_dt_struct, off_dt_strings),
5.4 (structure block: FDT_BEGIN_NODE 1 + NUL-terminated name padded to 4 bytes, FDT_END_NODE 2,
FDT_PROP 3 + len + nameoff + value padded to 4 bytes, FDT_NOP 4, FDT_END 9); 2.3.4 (status),
2.3.5 (#address-cells default 2, #size-cells default 1, both of the parent), 2.3.6 (reg), 2.3.8
(ranges: child address, parent address, child size; empty = identity), 3.3 (/aliases), 3.4
(memory nodes), 3.5 (/reserved-memory, no-map), 3.6 (/chosen stdout-path, up to a ':').
"""
import struct

BEGIN_NODE, END_NODE, PROP, NOP, END = 1, 2, 3, 4, 9


class Tree:
    """Every node of a DTB: path -> {property name: raw bytes}, in structure-block order."""

    def __init__(self, path):
        b = open(path, "rb").read()
        magic, _, off_struct, off_strings = struct.unpack_from(">IIII", b, 0)
        if magic != 0xD00DFEED:
            raise ValueError(f"{path}: not a DTB (magic {magic:#x})")
        self.nodes, names, stack, pos = {}, {}, [], off_struct
        while True:
            (tok,) = struct.unpack_from(">I", b, pos)
            pos += 4
            if tok == BEGIN_NODE:
                end = b.index(b"\0", pos)
                stack.append(b[pos:end].decode("latin-1"))
                props = self.nodes.setdefault("/" + "/".join(stack[1:]), {})
                pos = (end + 4) & ~3
            elif tok == END_NODE:
                stack.pop()
            elif tok == PROP:
                ln, nameoff = struct.unpack_from(">II", b, pos)
                name = names.get(nameoff)
                if name is None:
                    name = names[nameoff] = b[off_strings + nameoff:b.index(b"\0", off_strings + nameoff)].decode("latin-1")
                props[name] = b[pos + 8:pos + 8 + ln]
                pos = (pos + 8 + ln + 3) & ~3
            elif tok == END:
                break
            elif tok != NOP:
                raise ValueError(f"{path}: bad token {tok} at {pos - 4:#x}")

    @staticmethod
    def parent(path):
        return path.rsplit("/", 1)[0] or "/"

    def cells(self, node, name, default):
        v = self.nodes[node].get(name)
        return default if v is None else struct.unpack(">I", v)[0]

    @staticmethod
    def numbers(raw, *widths):
        """Splits `raw` into tuples of big-endian numbers of `widths` cells each."""
        step, out, at = 4 * sum(widths), [], 0
        for i in range(0, len(raw) - step + 1, step):
            row, at = [], i
            for w in widths:
                row.append(int.from_bytes(raw[at:at + 4 * w], "big"))
                at += 4 * w
            out.append(tuple(row))
        return out

    def reg(self, node):
        """The (address, size) pairs of `node`'s reg, in its parent bus's address space."""
        bus = self.parent(node)
        return self.numbers(self.nodes[node].get("reg", b""), self.cells(bus, "#address-cells", 2),
                            self.cells(bus, "#size-cells", 1))

    def to_cpu(self, node, addr):
        """A bus address of `node`'s parent, translated up to the root through every `ranges`;
        None when a bus has no ranges or no entry holds the address."""
        bus = self.parent(node)
        while bus != "/":
            ranges = self.nodes[bus].get("ranges")
            if ranges is None:
                return None
            if ranges:
                up = self.parent(bus)
                rows = self.numbers(ranges, self.cells(bus, "#address-cells", 2), self.cells(up, "#address-cells", 2),
                                    self.cells(bus, "#size-cells", 1))
                hit = [(c, p) for c, p, s in rows if c <= addr < c + s]
                if not hit:
                    return None
                addr = addr - hit[0][0] + hit[0][1]
            bus = self.parent(bus)
        return addr

    def enabled(self, node):
        status = self.nodes[node].get("status")
        return status is None or status.rstrip(b"\0") in (b"okay", b"ok")

    def string(self, node, name):
        v = self.nodes.get(node, {}).get(name)
        return None if v is None else v.rstrip(b"\0").decode("latin-1")

    # --- what a machine is made of ---------------------------------------------------------------
    def memory(self):
        """CPU (pa, size) of every non-empty reg range of every enabled memory node, sorted."""
        out = []
        for node, props in self.nodes.items():
            if props.get("device_type") == b"memory\0" and self.enabled(node):
                out += [(self.to_cpu(node, a), s) for a, s in self.reg(node) if s]
        return sorted(out)

    def no_map(self):
        """(node, cpu pa, size) of every reg range of every enabled no-map child of
        /reserved-memory, and the paths of those without a reg (placed by the OS at boot)."""
        fixed, dynamic = [], []
        for node, props in self.nodes.items():
            if self.parent(node) == "/reserved-memory" and node != "/reserved-memory" and "no-map" in props \
                    and self.enabled(node):
                if "reg" not in props:
                    dynamic.append(node)
                fixed += [(node, self.to_cpu(node, a), s) for a, s in self.reg(node) if s]
        return sorted(fixed, key=lambda r: r[1]), dynamic

    def console(self):
        """('none' | 'missing' | 'disabled' | 'okay', path, cpu pa, size of the first reg range) of
        the node /chosen/stdout-path (or linux,stdout-path) names, directly or through /aliases
        ('missing': it names no node)."""
        out = self.string("/chosen", "stdout-path")
        if out is None:
            out = self.string("/chosen", "linux,stdout-path")
        if out is None:
            return ("none", None, None, None)
        name = out.split(":")[0]
        if not name.startswith("/"):
            first, _, rest = name.partition("/")
            alias = self.string("/aliases", first)
            name = None if alias is None else alias + ("/" + rest if rest else "")
        if name not in self.nodes:
            return ("missing", name or out, None, None)
        if not self.enabled(name):
            return ("disabled", name, None, None)
        pa, size = self.reg(name)[0]
        return ("okay", name, self.to_cpu(name, pa), size)
