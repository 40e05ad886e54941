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
    case version, current_schema, current_database, current_user, gen_random_uuid, typeof
}

extension BExpr {
    /// True when the expression reads no column of its own query level (so it can be
    /// computed once before a scan: constants, parameters, outer references).
    var isRowIndependent: Bool {
        switch self {
        case .const, .param, .outer: return true
        case .column, .subquery: return false
        case .not(let a), .negate(let a, _), .isNull(let a, _), .isTruth(let a, _, _), .cast(let a, _, _): return a.isRowIndependent
        case .and(let a, let b), .or(let a, let b), .compare(_, let a, let b), .arith(_, let a, let b, _), .concat(let a, let b),
            .isDistinct(let a, let b, _):
            return a.isRowIndependent && b.isRowIndependent
        case .inList(let a, let l, _): return a.isRowIndependent && l.allSatisfy(\.isRowIndependent)
        case .like(let a, let b, let e, _, _): return a.isRowIndependent && b.isRowIndependent && (e?.isRowIndependent ?? true)
        case .caseWhen(let w, let o): return w.allSatisfy(\.isRowIndependent) && (o?.isRowIndependent ?? true)
        case .call(let f, let args): return f != .random && f != .gen_random_uuid && args.allSatisfy(\.isRowIndependent)
        }
    }

    /// The input columns the expression reads.
    func columns(into set: inout Set<Int>) {
        switch self {
        case .column(let i): set.insert(i)
        case .const, .param, .outer, .subquery: break
        case .not(let a), .negate(let a, _), .isNull(let a, _), .isTruth(let a, _, _), .cast(let a, _, _): a.columns(into: &set)
        case .and(let a, let b), .or(let a, let b), .compare(_, let a, let b), .arith(_, let a, let b, _), .concat(let a, let b),
            .isDistinct(let a, let b, _):
            a.columns(into: &set)
            b.columns(into: &set)
        case .inList(let a, let l, _):
            a.columns(into: &set)
            for x in l { x.columns(into: &set) }
        case .like(let a, let b, let e, _, _):
            a.columns(into: &set)
            b.columns(into: &set)
            e?.columns(into: &set)
        case .caseWhen(let w, let o):
            for x in w { x.columns(into: &set) }
            o?.columns(into: &set)
        case .call(_, let args): for x in args { x.columns(into: &set) }
        }
    }

    /// The subqueries the expression uses.
    func subqueries(into set: inout Set<Int>) {
        switch self {
        case .subquery(let i): set.insert(i)
        case .const, .param, .outer, .column: break
        case .not(let a), .negate(let a, _), .isNull(let a, _), .isTruth(let a, _, _), .cast(let a, _, _): a.subqueries(into: &set)
        case .and(let a, let b), .or(let a, let b), .compare(_, let a, let b), .arith(_, let a, let b, _), .concat(let a, let b),
            .isDistinct(let a, let b, _):
            a.subqueries(into: &set)
            b.subqueries(into: &set)
        case .inList(let a, let l, _):
            a.subqueries(into: &set)
            for x in l { x.subqueries(into: &set) }
        case .like(let a, let b, let e, _, _):
            a.subqueries(into: &set)
            b.subqueries(into: &set)
            e?.subqueries(into: &set)
        case .caseWhen(let w, let o):
            for x in w { x.subqueries(into: &set) }
            o?.subqueries(into: &set)
        case .call(_, let args): for x in args { x.subqueries(into: &set) }
        }
    }

    /// The expression with every column position moved by `f`.
    func mapColumns(_ f: (Int) -> Int) -> BExpr {
        switch self {
        case .column(let i): return .column(f(i))
        case .const, .param, .outer, .subquery: return self
        case .not(let a): return .not(a.mapColumns(f))
        case .negate(let a, let t): return .negate(a.mapColumns(f), t)
        case .isNull(let a, let n): return .isNull(a.mapColumns(f), negated: n)
        case .isTruth(let a, let v, let n): return .isTruth(a.mapColumns(f), v, negated: n)
        case .cast(let a, let t, let l): return .cast(a.mapColumns(f), t, length: l)
        case .and(let a, let b): return .and(a.mapColumns(f), b.mapColumns(f))
        case .or(let a, let b): return .or(a.mapColumns(f), b.mapColumns(f))
        case .compare(let op, let a, let b): return .compare(op, a.mapColumns(f), b.mapColumns(f))
        case .arith(let op, let a, let b, let t): return .arith(op, a.mapColumns(f), b.mapColumns(f), t)
        case .concat(let a, let b): return .concat(a.mapColumns(f), b.mapColumns(f))
        case .isDistinct(let a, let b, let n): return .isDistinct(a.mapColumns(f), b.mapColumns(f), negated: n)
        case .inList(let a, let l, let n): return .inList(a.mapColumns(f), l.map { $0.mapColumns(f) }, negated: n)
        case .like(let a, let b, let e, let n, let ci):
            return .like(a.mapColumns(f), b.mapColumns(f), escape: e?.mapColumns(f), negated: n, caseInsensitive: ci)
        case .caseWhen(let w, let o): return .caseWhen(w.map { $0.mapColumns(f) }, otherwise: o?.mapColumns(f))
        case .call(let fn, let args): return .call(fn, args.map { $0.mapColumns(f) })
        }
    }
}
