/// An expression after name resolution and type checking: columns are positions in
/// the input row, operators are chosen for their operand types.
indirect enum BExpr: Hashable, Sendable {
    case const(SQLValue)
    case column(Int)
    /// A column of an enclosing query's current row: levels up (1 = parent), position.
    case outer(Int, Int)
    /// `$n`, 0-based.
    case param(Int)
    case not(BExpr)
    case and(BExpr, BExpr)
    case or(BExpr, BExpr)
    case compare(CompareOp, BExpr, BExpr)
    /// Arithmetic producing `type`.
    case arith(ArithOp, BExpr, BExpr, SQLType)
    case negate(BExpr, SQLType)
    case concat(BExpr, BExpr)
    case isNull(BExpr, negated: Bool)
    case isDistinct(BExpr, BExpr, negated: Bool)
    case isTruth(BExpr, Bool?, negated: Bool)
    case inList(BExpr, [BExpr], negated: Bool)
    case like(BExpr, BExpr, escape: BExpr?, negated: Bool, caseInsensitive: Bool)
    /// Conditions and results alternate in `whens`.
    case caseWhen([BExpr], otherwise: BExpr?)
    case cast(BExpr, SQLType, length: Int?)
    case call(Function, [BExpr])
    /// The value of subquery `n` for the current row, computed before evaluation.
    case subquery(Int)
}

enum CompareOp: String, Hashable, Sendable {
    case eq = "=", ne = "<>", lt = "<", le = "<=", gt = ">", ge = ">="

    func holds(_ c: Int) -> Bool {
        switch self {
        case .eq: c == 0
        case .ne: c != 0
        case .lt: c < 0
        case .le: c <= 0
        case .gt: c > 0
        case .ge: c >= 0
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    var flipped: CompareOp {
        switch self {
        case .lt: .gt
        case .le: .ge
        case .gt: .lt
        case .ge: .le
        default: self
        }
    }
}

enum ArithOp: String, Hashable, Sendable {
    case add = "+", sub = "-", mul = "*", div = "/", mod = "%", pow = "^"
}

/// The built-in scalar functions.
enum Function: String, Hashable, Sendable, CaseIterable {
    case abs, coalesce, nullif, greatest, least
    case lower, upper, length, substr, strpos, replace, btrim, ltrim, rtrim, concat, concat_ws
    case left, right, lpad, rpad, `repeat`, reverse, initcap, md5, split_part, starts_with, chr, ascii
    case round, ceil, floor, trunc, sqrt, power, mod, sign, exp, ln, log, log10, pi, random, cbrt, div
    case now, current_date, date_part, date_trunc, to_timestamp
    case version, current_schema, current_database, current_user, gen_random_uuid, typeof, current_setting
    /// Arrays (held as their text form): `ARRAY[...]`, `a[i]`, `x = ANY(a)`, `a || b`.
    case arrayConstructor = "array[]", arrayElement = "[]", arrayContains = "= any", arrayConcat = "array ||"
    case array_to_string, array_upper, array_lower, array_length, cardinality
    /// `a ~ pattern` (POSIX regular expressions); the third argument asks for case-insensitivity.
    case regexMatch = "~"
    case format_type, pg_encoding_to_char, quote_ident
    /// The next value of a sequence, from the values reserved before the statement ran.
    case nextval
    /// `set_config(name, value, is_local)`: SET as a function; returns the value.
    case set_config
}

extension BExpr {
    /// Calls `body` with each direct sub-expression.
    func forEachChild(_ body: (BExpr) -> Void) {
        switch self {
        case .const, .param, .outer, .column, .subquery: break
        case .not(let a), .negate(let a, _), .isNull(let a, _), .isTruth(let a, _, _), .cast(let a, _, _): body(a)
        case .and(let a, let b), .or(let a, let b), .compare(_, let a, let b), .arith(_, let a, let b, _), .concat(let a, let b),
            .isDistinct(let a, let b, _):
            body(a)
            body(b)
        case .inList(let a, let l, _):
            body(a)
            l.forEach(body)
        case .like(let a, let b, let e, _, _):
            body(a)
            body(b)
            if let e { body(e) }
        case .caseWhen(let w, let o):
            w.forEach(body)
            if let o { body(o) }
        case .call(_, let args): args.forEach(body)
        }
    }

    /// The expression with each direct sub-expression replaced by `f` of it.
    func mapChildren(_ f: (BExpr) -> BExpr) -> BExpr {
        switch self {
        case .const, .param, .outer, .column, .subquery: return self
        case .not(let a): return .not(f(a))
        case .negate(let a, let t): return .negate(f(a), t)
        case .isNull(let a, let n): return .isNull(f(a), negated: n)
        case .isTruth(let a, let v, let n): return .isTruth(f(a), v, negated: n)
        case .cast(let a, let t, let l): return .cast(f(a), t, length: l)
        case .and(let a, let b): return .and(f(a), f(b))
        case .or(let a, let b): return .or(f(a), f(b))
        case .compare(let op, let a, let b): return .compare(op, f(a), f(b))
        case .arith(let op, let a, let b, let t): return .arith(op, f(a), f(b), t)
        case .concat(let a, let b): return .concat(f(a), f(b))
        case .isDistinct(let a, let b, let n): return .isDistinct(f(a), f(b), negated: n)
        case .inList(let a, let l, let n): return .inList(f(a), l.map(f), negated: n)
        case .like(let a, let b, let e, let n, let ci): return .like(f(a), f(b), escape: e.map(f), negated: n, caseInsensitive: ci)
        case .caseWhen(let w, let o): return .caseWhen(w.map(f), otherwise: o.map(f))
        case .call(let fn, let args): return .call(fn, args.map(f))
        }
    }

    /// True when the expression reads no column of its own query level (so it can be
    /// computed once before a scan: constants, parameters, outer references).
    var isRowIndependent: Bool {
        switch self {
        case .column, .subquery: return false
        case .call(.random, _), .call(.gen_random_uuid, _): return false
        default:
            var independent = true
            forEachChild { if !$0.isRowIndependent { independent = false } }
            return independent
        }
    }

    /// The input columns the expression reads.
    func columns(into set: inout Set<Int>) {
        if case .column(let i) = self { set.insert(i) }
        forEachChild { $0.columns(into: &set) }
    }

    /// The subqueries the expression uses.
    func subqueries(into set: inout Set<Int>) {
        if case .subquery(let i) = self { set.insert(i) }
        forEachChild { $0.subqueries(into: &set) }
    }

    /// The expression with every column position moved by `f`.
    func mapColumns(_ f: (Int) -> Int) -> BExpr {
        if case .column(let i) = self { return .column(f(i)) }
        return mapChildren { $0.mapColumns(f) }
    }

    /// The expression with every subquery number moved up by `n`.
    func shiftSubqueries(by n: Int) -> BExpr {
        if case .subquery(let i) = self { return .subquery(i + n) }
        return n == 0 ? self : mapChildren { $0.shiftSubqueries(by: n) }
    }
}
