import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// What expression evaluation needs besides the row: parameters, the rows of
/// enclosing queries (for correlated subqueries) and this row's subquery values.
final class EvalContext {
    var params: [SQLValue]
    /// Enclosing queries' current rows, innermost last.
    var outer: [[SQLValue]] = []
    /// Values of the subqueries of the expression being evaluated, for the current row.
    var subqueryValues: [SQLValue] = []
    /// The statement's start time (microseconds since 2000-01-01), for now().
    let statementTime: Int64
    /// The session's role, for `current_user` ("strata" when embedded).
    var user = "strata"
    /// Settings changed with SET in the session, for `current_setting`.
    var settings: [String: String] = [:]
    /// The database's name as clients know it, for `current_database()`.
    var database = "strata"
    /// Where `set_config` records what it changed, for the session to keep.
    var settingChanges: SettingChanges?
    /// Set when the client asks to cancel the running statement.
    var cancel: CancelFlag?
    /// The process's sequence reservations, for `nextval`.
    var sequences: SequenceAllocator?
    /// Regular expressions compiled by this statement, by pattern and case-insensitivity.
    var regexes: [String: Regex<AnyRegexOutput>] = [:]

    init(params: [SQLValue], statementTime: Int64) {
        self.params = params
        self.statementTime = statementTime
    }
}

/// Evaluates bound expressions with PostgreSQL's semantics: three-valued logic,
/// NULL propagation, checked integer arithmetic (22003) and division (22012).
enum Evaluator {
    static func eval(_ e: BExpr, _ row: [SQLValue], _ ctx: EvalContext) throws -> SQLValue {
        switch e {
        case .const(let v): return v
        case .column(let i): return row[i]
        case .outer(let level, let i): return ctx.outer[ctx.outer.count - level][i]
        case .param(let i):
            guard i < ctx.params.count else { throw SQLError(SQLError.undefinedParameter, "there is no parameter $\(i + 1)") }
            return ctx.params[i]
        case .subquery(let i): return ctx.subqueryValues[i]
        case .not(let a):
            switch try eval(a, row, ctx) {
            case .bool(let b): return .bool(!b)
            default: return .null
            }
        case .and(let a, let b):
            let x = try eval(a, row, ctx)
            if case .bool(false) = x { return x }
            let y = try eval(b, row, ctx)
            if case .bool(false) = y { return y }
            if x.isNull || y.isNull { return .null }
            return .bool(true)
        case .or(let a, let b):
            let x = try eval(a, row, ctx)
            if case .bool(true) = x { return x }
            let y = try eval(b, row, ctx)
            if case .bool(true) = y { return y }
            if x.isNull || y.isNull { return .null }
            return .bool(false)
        case .compare(let op, let a, let b):
            let x = try eval(a, row, ctx)
            if x.isNull { return .null }
            let y = try eval(b, row, ctx)
            if y.isNull { return .null }
            return .bool(op.holds(try compare(x, y)))
        case .arith(let op, let a, let b, let type):
            let x = try eval(a, row, ctx)
            if x.isNull { return .null }
            let y = try eval(b, row, ctx)
            if y.isNull { return .null }
            return try arithmetic(op, x, y, type)
        case .negate(let a, let type):
            let x = try eval(a, row, ctx)
            switch x {
            case .int(let i):
                guard i != .min, type.integerRange.contains(-i) else { throw outOfRange(type) }
                return .int(-i)
            case .double(let d): return .double(-d)
            case .numeric(let d): return .numeric(-d)
            default: return x
            }
        case .concat(let a, let b):
            let x = try eval(a, row, ctx)
            let y = try eval(b, row, ctx)
            guard let s = x.text, let t = y.text else { return .null }
            return .text(s + t)
        case .isNull(let a, let negated):
            return .bool(try eval(a, row, ctx).isNull != negated)
        case .isDistinct(let a, let b, let negated):
            let x = try eval(a, row, ctx)
            let y = try eval(b, row, ctx)
            let distinct: Bool
            if x.isNull || y.isNull {
                distinct = x.isNull != y.isNull
            } else {
                distinct = try compare(x, y) != 0
            }
            return .bool(distinct != negated)
        case .isTruth(let a, let value, let negated):
            let x = try eval(a, row, ctx)
            let matches: Bool
            switch (x, value) {
            case (.null, nil): matches = true
            case (.bool(let b), .some(let v)): matches = b == v
            default: matches = false
            }
            return .bool(matches != negated)
        case .inList(let a, let list, let negated):
            let x = try eval(a, row, ctx)
            if x.isNull { return .null }
            var sawNull = false
            for item in list {
                let y = try eval(item, row, ctx)
                if y.isNull {
                    sawNull = true
                } else if try compare(x, y) == 0 {
                    return .bool(!negated)
                }
            }
            return sawNull ? .null : .bool(negated)
        case .like(let a, let p, let escape, let negated, let ci):
            let x = try eval(a, row, ctx)
            let y = try eval(p, row, ctx)
            guard var s = x.text, var pattern = y.text else { return .null }
            var esc: Character? = "\\"
            if let escape {
                guard let e = try eval(escape, row, ctx).text else { return .null }
                esc = e.first
            }
            if ci {
                s = s.lowercased()
                pattern = pattern.lowercased()
            }
            return .bool(Like.matches(Array(s.unicodeScalars), Array(pattern.unicodeScalars), escape: esc?.unicodeScalars.first) != negated)
        case .caseWhen(let whens, let otherwise):
            var i = 0
            while i < whens.count {
                if case .bool(true) = try eval(whens[i], row, ctx) { return try eval(whens[i + 1], row, ctx) }
                i += 2
            }
            return try otherwise.map { try eval($0, row, ctx) } ?? .null
        case .cast(let a, let type, let length):
            return try Cast.cast(try eval(a, row, ctx), to: type, length: length, explicit: true)
        case .call(let f, let args):
            return try Functions.call(f, args, row, ctx)
        }
    }

    /// True only when `e` evaluates to TRUE (NULL and FALSE both reject a row).
    @inline(__always) static func test(_ e: BExpr, _ row: [SQLValue], _ ctx: EvalContext) throws -> Bool {
        if case .bool(true) = try eval(e, row, ctx) { return true }
        return false
    }

    static func compare(_ x: SQLValue, _ y: SQLValue) throws -> Int {
        if let c = SQLValue.compare(x, y) { return c }
        if case .text(let s) = x { return try compare(try Cast.fromText(s, like: y), y) }
        if case .text(let t) = y { return try compare(x, try Cast.fromText(t, like: x)) }
        throw SQLError(SQLError.undefinedFunction, "cannot compare \(x) with \(y)")
    }

    static func outOfRange(_ type: SQLType) -> SQLError {
        switch type {
        case .smallint: SQLError(SQLError.numericOutOfRange, "smallint out of range")
        case .integer: SQLError(SQLError.numericOutOfRange, "integer out of range")
        case .bigint: SQLError(SQLError.numericOutOfRange, "bigint out of range")
        default: SQLError(SQLError.numericOutOfRange, "value out of range: overflow")
        }
    }

    static func divisionByZero() -> SQLError { SQLError(SQLError.divisionByZero, "division by zero") }

    static func arithmetic(_ op: ArithOp, _ x: SQLValue, _ y: SQLValue, _ type: SQLType) throws -> SQLValue {
        if type.isInteger, case .int(let a) = x, case .int(let b) = y {
            var r: Int64
            var overflow = false
            switch op {
            case .add: (r, overflow) = a.addingReportingOverflow(b)
            case .sub: (r, overflow) = a.subtractingReportingOverflow(b)
            case .mul: (r, overflow) = a.multipliedReportingOverflow(by: b)
            case .div:
                if b == 0 { throw divisionByZero() }
                (r, overflow) = a.dividedReportingOverflow(by: b)
            case .mod:
                if b == 0 { throw divisionByZero() }
                r = b == -1 ? 0 : a % b
            case .pow: return .double(pow(Double(a), Double(b)))
            }
            guard !overflow, type.integerRange.contains(r) else { throw outOfRange(type) }
            return .int(r)
        }
        if type == .numeric {
            let a = try Cast.toDecimal(x)
            let b = try Cast.toDecimal(y)
            switch op {
            case .add: return .numeric(a + b)
            case .sub: return .numeric(a - b)
            case .mul: return .numeric(a * b)
            case .div:
                if b == 0 { throw divisionByZero() }
                return .numeric(a / b)
            case .mod:
                if b == 0 { throw divisionByZero() }
                return .numeric(a - Cast.truncate(a / b) * b)
            case .pow: return .double(pow(NSDecimalToDouble(a), NSDecimalToDouble(b)))
            }
        }
        if case .text = x, type == .text { throw SQLError(SQLError.undefinedFunction, "operator does not exist: text \(op.rawValue) text") }
        let a = try Cast.toDouble(x)
        let b = try Cast.toDouble(y)
        let r: Double
        switch op {
        case .add: r = a + b
        case .sub: r = a - b
        case .mul: r = a * b
        case .div:
            if b == 0 { throw divisionByZero() }
            r = a / b
        case .mod:
            if b == 0 { throw divisionByZero() }
            r = a.truncatingRemainder(dividingBy: b)
        case .pow: r = pow(a, b)
        }
        if r.isInfinite && a.isFinite && b.isFinite { throw outOfRange(.double) }
        return .double(type == .real ? Double(Float(r)) : r)
    }
}

/// SQL LIKE matching over Unicode scalars: `%` any run, `_` any one, escape for literals.
enum Like {
    static func matches(_ s: [Unicode.Scalar], _ p: [Unicode.Scalar], escape: Unicode.Scalar?) -> Bool {
        var si = 0
        var pi = 0
        var starP = -1
        var starS = 0
        while si < s.count {
            if pi < p.count {
                let c = p[pi]
                if c == "%" {
                    starP = pi
                    starS = si
                    pi += 1
                    continue
                }
                if let escape, c == escape, pi + 1 < p.count {
                    if p[pi + 1] == s[si] {
                        pi += 2
                        si += 1
                        continue
                    }
                } else if c == "_" || c == s[si] {
                    pi += 1
                    si += 1
                    continue
                }
            }
            if starP >= 0 {
                pi = starP + 1
                starS += 1
                si = starS
                continue
            }
            return false
        }
        while pi < p.count && p[pi] == "%" { pi += 1 }
        return pi == p.count
    }
}
