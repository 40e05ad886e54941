import FoundationEssentials

extension Planner {
    /// Binds `e` in `scope`, returning the bound expression and its type.
    func bind(_ e: Expr, _ scope: Scope) throws -> (BExpr, SQLType) {
        // In an aggregating query, an expression equal to a GROUP BY key is that key.
        if let agg = scope.aggregation, !agg.insideAggregate, !agg.groups.isEmpty, !isAggregateOrWindow(e) {
            if case .literal = e {} else {
                scope.aggregation = nil
                let plain = try? bind(e, scope)
                scope.aggregation = agg
                if let plain, let i = agg.groups.firstIndex(of: plain.0) { return (.column(i), agg.groupTypes[i]) }
            }
        }
        switch e {
        case .literal(let v):
            return (.const(v), Cast.typeOf(v))
        case .string(let s):
            return (.const(.text(s)), .unknown)
        case .typedString(let t, let s):
            return (.const(try Cast.cast(.text(s), to: t, length: nil, explicit: true)), t)
        case .defaultValue:
            throw SQLError(SQLError.syntaxError, "DEFAULT is not allowed in this context")
        case .parameter(let n):
            guard n >= 1 else { throw SQLError(SQLError.undefinedParameter, "there is no parameter $\(n)") }
            maxParameter = max(maxParameter, n)
            return (.param(n - 1), parameterTypes[n - 1] ?? .unknown)
        case .column(let table, let name):
            return try bindColumn(table, name, scope)
        case .unary(let op, let a):
            let (x, t) = try bind(a, scope)
            switch op {
            case "not":
                return (.not(try coerce(x, t, to: .boolean, "argument of NOT")), .boolean)
            case "-":
                let rt = t == .unknown ? SQLType.numeric : t
                guard rt.isNumeric else { throw SQLError(SQLError.undefinedFunction, "operator does not exist: - \(t)") }
                if case .const(let v) = x {
                    return (.const(try Evaluator.eval(.negate(.const(try Cast.cast(v, to: rt, length: nil, explicit: true)), rt), [], constantContext)), rt)
                }
                return (.negate(x, rt), rt)
            case "+":
                guard t.isNumeric || t == .unknown else { throw SQLError(SQLError.undefinedFunction, "operator does not exist: + \(t)") }
                return (x, t)
            default:
                throw SQLError(SQLError.featureNotSupported, "operator \(op) is not supported")
            }
        case .binary(let op, let a, let b):
            return try bindBinary(op, a, b, scope)
        case .isNull(let a, let negated):
            return (.isNull(try bind(a, scope).0, negated: negated), .boolean)
        case .isDistinct(let a, let b, let negated):
            let (x, y, _) = try bindComparable(a, b, scope)
            return (.isDistinct(x, y, negated: negated), .boolean)
        case .isTruth(let a, let v, let negated):
            let (x, t) = try bind(a, scope)
            return (.isTruth(try coerce(x, t, to: .boolean, "argument of IS"), v, negated: negated), .boolean)
        case .between(let a, let low, let high, let negated, let symmetric):
            let (x, lo, _) = try bindComparable(a, low, scope)
            let (x2, hi, _) = try bindComparable(a, high, scope)
            var r: BExpr = .and(.compare(.ge, x, lo), .compare(.le, x2, hi))
            if symmetric { r = .or(r, .and(.compare(.ge, x, hi), .compare(.le, x2, lo))) }
            return (negated ? .not(r) : r, .boolean)
        case .inList(let a, let list, let negated):
            var (x, t) = try bind(a, scope)
            var items: [(BExpr, SQLType)] = try list.map { try bind($0, scope) }
            if items.count == 1, let member = try bindArrayMembership((x, t), items[0], negated: negated) { return (member, .boolean) }
            let common = try unify([t] + items.map(\.1), "IN")
            x = try coerce(x, t, to: common, "IN")
            items = try items.map { (try coerce($0.0, $0.1, to: common, "IN"), common) }
            return (.inList(x, items.map(\.0), negated: negated), .boolean)
        case .inSubquery(let a, let q, let negated):
            let (x, t) = try bind(a, scope)
            let (plan, cols, correlated) = try planSubquery(q, scope)
            guard cols.count == 1 else { throw SQLError(SQLError.syntaxError, "subquery has too many columns") }
            _ = try unify([t, cols[0].type], "IN")
            return (.subquery(addSubquery(SubqueryPlan(kind: .inList(x, negated: negated), plan: plan, correlated: correlated))), .boolean)
        case .exists(let q):
            let (plan, _, correlated) = try planSubquery(q, scope)
            return (.subquery(addSubquery(SubqueryPlan(kind: .exists, plan: plan, correlated: correlated))), .boolean)
        case .subquery(let q):
            let (plan, cols, correlated) = try planSubquery(q, scope)
            guard cols.count == 1 else { throw SQLError(SQLError.syntaxError, "subquery must return only one column") }
            return (.subquery(addSubquery(SubqueryPlan(kind: .scalar, plan: plan, correlated: correlated))), cols[0].type)
        case .quantified(let op, let a, let all, let q):
            let (x, _) = try bind(a, scope)
            let (plan, cols, correlated) = try planSubquery(q, scope)
            guard cols.count == 1 else { throw SQLError(SQLError.syntaxError, "subquery has too many columns") }
            guard let cop = CompareOp(rawValue: op) else { throw SQLError(SQLError.undefinedFunction, "operator \(op) is not supported") }
            return (.subquery(addSubquery(SubqueryPlan(kind: .quantified(cop, x, all: all), plan: plan, correlated: correlated))), .boolean)
        case .like(let a, let p, let escape, let negated, let ci):
            let (x, t) = try bind(a, scope)
            let (y, u) = try bind(p, scope)
            let esc = try escape.map { try bind($0, scope).0 }
            return (.like(try coerce(x, t, to: .text, "LIKE"), try coerce(y, u, to: .text, "LIKE"), escape: esc, negated: negated, caseInsensitive: ci), .boolean)
        case .caseWhen(let operand, let whens, let otherwise):
            var conds: [BExpr] = []
            var results: [(BExpr, SQLType)] = []
            for w in whens {
                if let operand {
                    let (x, y, _) = try bindComparable(operand, w.condition, scope)
                    conds.append(.compare(.eq, x, y))
                } else {
                    let (c, t) = try bind(w.condition, scope)
                    conds.append(try coerce(c, t, to: .boolean, "CASE/WHEN"))
                }
                results.append(try bind(w.result, scope))
            }
            let other = try otherwise.map { try bind($0, scope) }
            let type = try unify(results.map(\.1) + (other.map { [$0.1] } ?? []), "CASE")
            var flat: [BExpr] = []
            for (c, r) in zip(conds, results) {
                flat.append(c)
                flat.append(try coerce(r.0, r.1, to: type, "CASE"))
            }
            return (.caseWhen(flat, otherwise: try other.map { try coerce($0.0, $0.1, to: type, "CASE") }), type)
        case .cast(let a, let tn):
            let (x, t) = try bind(a, scope)
            if let lookup = tn.lookup { return try bindCatalogCast(x, t, lookup) }
            if t == .unknown, case .param(let i) = x, inferredParameters[i] == nil { inferredParameters[i] = tn.type }
            let length = (tn.type == .text && !tn.modifiers.isEmpty) ? tn.modifiers[0] : nil
            if case .const(let v) = x {
                return (.const(try Cast.cast(v, to: tn.type, length: length, explicit: true)), tn.type)
            }
            if t == tn.type && length == nil { return (x, t) }
            return (.cast(x, tn.type, length: length), tn.type)
        case .row:
            throw SQLError(SQLError.featureNotSupported, "row values are not supported here")
        case .function(let call):
            return try bindFunction(call, scope)
        }
    }

    func isAggregateOrWindow(_ e: Expr) -> Bool {
        if case .function(let c) = e { return c.over != nil || Planner.aggregateNames.contains(c.name) }
        return false
    }

    func bindColumn(_ table: String?, _ name: String, _ scope: Scope) throws -> (BExpr, SQLType) {
        var level = 0
        var s: Scope? = scope
        while let current = s {
            if let (i, t) = try current.lookup(table: table, name: name) {
                if let agg = current.aggregation, !agg.insideAggregate {
                    guard let g = agg.groups.firstIndex(of: .column(i)) else {
                        let qualified = table.map { "\($0).\(name)" } ?? name
                        throw SQLError(SQLError.groupingError, "column \"\(qualified)\" must appear in the GROUP BY clause or be used in an aggregate function")
                    }
                    if level > 0 { minResolvedDepth = min(minResolvedDepth, current.depth) }
                    return level == 0 ? (.column(g), t) : (.outer(level, g), t)
                }
                if level > 0 { minResolvedDepth = min(minResolvedDepth, current.depth) }
                return level == 0 ? (.column(i), t) : (.outer(level, i), t)
            }
            s = current.parent
            level += 1
        }
        let qualified = table.map { "\($0).\(name)" } ?? name
        throw SQLError(SQLError.undefinedColumn, "column \"\(qualified)\" does not exist")
    }

    /// Binds two expressions that are compared, casting untyped constants to the other's type.
    func bindComparable(_ a: Expr, _ b: Expr, _ scope: Scope) throws -> (BExpr, BExpr, SQLType) {
        var (x, t) = try bind(a, scope)
        var (y, u) = try bind(b, scope)
        let common = try unify([t, u], "comparison")
        if t != u {
            x = try coerce(x, t, to: common, "comparison")
            y = try coerce(y, u, to: common, "comparison")
        } else if t == .unknown {
            x = try coerce(x, t, to: .text, "comparison")
            y = try coerce(y, u, to: .text, "comparison")
        }
        return (x, y, common)
    }

    func bindBinary(_ op: String, _ a: Expr, _ b: Expr, _ scope: Scope) throws -> (BExpr, SQLType) {
        switch op {
        case "and", "or":
            let (x, t) = try bind(a, scope)
            let (y, u) = try bind(b, scope)
            let l = try coerce(x, t, to: .boolean, "argument of \(op.uppercased())")
            let r = try coerce(y, u, to: .boolean, "argument of \(op.uppercased())")
            return (op == "and" ? .and(l, r) : .or(l, r), .boolean)
        case "=", "<>", "<", "<=", ">", ">=":
            let (x, y, _) = try bindComparable(a, b, scope)
            return (.compare(CompareOp(rawValue: op)!, x, y), .boolean)
        case "~", "!~", "~*", "!~*":
            let (x, t) = try bind(a, scope)
            let (y, u) = try bind(b, scope)
            let match = BExpr.call(.regexMatch, [try coerce(x, t, to: .text, op), try coerce(y, u, to: .text, op), .const(.bool(op.hasSuffix("*")))])
            return (op.hasPrefix("!") ? .not(match) : match, .boolean)
        case "||":
            let (x, t) = try bind(a, scope)
            let (y, u) = try bind(b, scope)
            if let joined = try bindArrayConcat((x, t), (y, u)) { return joined }
            return (.concat(try coerce(x, t, to: .text, "||", assignment: true), try coerce(y, u, to: .text, "||", assignment: true)), .text)
        case "+", "-", "*", "/", "%", "^":
            let (x0, t0) = try bind(a, scope)
            let (y0, u0) = try bind(b, scope)
            // An untyped operand takes the other's type (numeric when both are untyped).
            let t = t0 == .unknown ? (u0 == .unknown ? .numeric : u0) : t0
            let u = u0 == .unknown ? t : u0
            guard t.isNumeric && u.isNumeric else {
                throw SQLError(SQLError.undefinedFunction, "operator does not exist: \(t) \(op) \(u)")
            }
            var type = t.numericRank >= u.numericRank ? t : u
            if op == "^" { type = .double }
            let x = try coerce(x0, t0, to: t, "arithmetic")
            let y = try coerce(y0, u0, to: u, "arithmetic")
            let arithOp = ArithOp(rawValue: op)!
            var result: BExpr = .arith(arithOp, try coerce(x, t, to: type, "arithmetic"), try coerce(y, u, to: type, "arithmetic"), type)
            if case .arith(_, .const, .const, _) = result {
                result = .const(try Evaluator.eval(result, [], constantContext))
            }
            return (result, type)
        default:
            throw SQLError(SQLError.featureNotSupported, "operator \(op) is not supported")
        }
    }

    /// The type several expressions share (PostgreSQL's UNION/CASE resolution, simplified).
    func unify(_ types: [SQLType], _ context: String) throws -> SQLType {
        let known = types.filter { $0 != .unknown }
        guard var result = known.first else { return types.isEmpty ? .text : .unknown }
        for t in known.dropFirst() where t != result {
            if t.isNumeric && result.isNumeric {
                if t.numericRank > result.numericRank { result = t }
            } else if (t == .text && result == .json) || (t == .json && result == .text) {
                result = .text
            } else if [SQLType.date, .timestamp, .timestamptz].contains(t) && [SQLType.date, .timestamp, .timestamptz].contains(result) {
                result = t == .timestamptz || result == .timestamptz ? .timestamptz : .timestamp
            } else {
                throw SQLError(SQLError.datatypeMismatch, "\(context) types \(result) and \(t) cannot be matched")
            }
        }
        return result
    }

    /// `x` (of type `from`) as type `to`: untyped constants convert now, numbers widen,
    /// anything else is an error (unless `assignment` allows text output).
    func coerce(_ x: BExpr, _ from: SQLType, to: SQLType, _ context: String, assignment: Bool = false) throws -> BExpr {
        if from == to || to == .unknown { return x }
        if from == .unknown, case .param(let i) = x, inferredParameters[i] == nil { inferredParameters[i] = to }
        if from == .unknown {
            if case .const(let v) = x { return .const(try Cast.cast(v, to: to == .unknown ? .text : to, length: nil, explicit: true)) }
            return .cast(x, to, length: nil)
        }
        if from.isNumeric && to.isNumeric {
            if from.isInteger && to.isInteger { return x }
            if case .const(let v) = x { return .const(try Cast.cast(v, to: to, length: nil, explicit: true)) }
            return .cast(x, to, length: nil)
        }
        if to == .text && (assignment || from == .json) { return .cast(x, .text, length: nil) }
        if [SQLType.date, .timestamp, .timestamptz].contains(from) && [SQLType.date, .timestamp, .timestamptz].contains(to) {
            return .cast(x, to, length: nil)
        }
        if to == .boolean {
            throw SQLError(SQLError.datatypeMismatch, "\(context) must be type boolean, not type \(from)")
        }
        throw SQLError(SQLError.undefinedFunction, "operator does not exist: \(from) and \(to) in \(context)")
    }

    static let aggregateNames: Set<String> = ["count", "sum", "avg", "min", "max", "string_agg", "array_agg", "bool_and", "bool_or", "every"]

    func bindFunction(_ call: FunctionCall, _ scope: Scope) throws -> (BExpr, SQLType) {
        if call.over != nil { return try bindWindowCall(call, scope) }
        if Planner.aggregateNames.contains(call.name) {
            guard let agg = scope.aggregation, !agg.insideAggregate else {
                throw SQLError(SQLError.groupingError, "aggregate functions are not allowed here")
            }
            let spec = try bindAggregate(call, scope, agg)
            return (.column(agg.position(of: spec)), spec.type)
        }
        if call.star || call.distinct {
            throw SQLError(SQLError.syntaxError, "\(call.name)(\(call.star ? "*" : "DISTINCT ...")) is not an aggregate")
        }
        if let bound = try bindSystemFunction(call, scope) { return bound }
        let name = call.name == "pow" ? "power" : call.name == "ceiling" ? "ceil" : call.name == "char_length" || call.name == "character_length" ? "length"
            : call.name == "substring" ? "substr" : call.name == "current_timestamp" || call.name == "localtimestamp" || call.name == "transaction_timestamp" || call.name == "statement_timestamp" ? "now"
            : call.name == "session_user" || call.name == "user" || call.name == "current_role" ? "current_user" : call.name == "current_catalog" ? "current_database"
            : call.name == "date_part" || call.name == "extract" ? "date_part" : call.name
        guard let f = Function(rawValue: name) else {
            throw SQLError(SQLError.undefinedFunction, "function \(call.name)(\(call.args.map { _ in "?" }.joined(separator: ", "))) does not exist")
        }
        let args = try call.args.map { try bind($0, scope) }
        func arity(_ r: ClosedRange<Int>) throws {
            guard r.contains(args.count) else {
                throw SQLError(SQLError.undefinedFunction, "function \(call.name) with \(args.count) arguments does not exist")
            }
        }
        func texts() throws -> [BExpr] { try args.map { try coerce($0.0, $0.1, to: .text, call.name, assignment: true) } }
        switch f {
        case .coalesce, .greatest, .least:
            try arity(1...1000)
            let t = try unify(args.map(\.1), call.name.uppercased())
            let rt = t == .unknown ? SQLType.text : t
            return (.call(f, try args.map { try coerce($0.0, $0.1, to: rt, call.name) }), rt)
        case .nullif:
            try arity(2...2)
            let t = try unify(args.map(\.1), "NULLIF")
            let rt = t == .unknown ? SQLType.text : t
            return (.call(f, try args.map { try coerce($0.0, $0.1, to: rt, call.name) }), rt)
        case .abs, .sign:
            try arity(1...1)
            let t = args[0].1 == .unknown ? SQLType.double : args[0].1
            guard t.isNumeric else { throw SQLError(SQLError.undefinedFunction, "function \(call.name)(\(t)) does not exist") }
            return (.call(f, [try coerce(args[0].0, args[0].1, to: t, call.name)]), t)
        case .round, .trunc, .ceil, .floor:
            try arity(1...2)
            let t = args[0].1 == .unknown ? SQLType.double : args[0].1
            guard t.isNumeric else { throw SQLError(SQLError.undefinedFunction, "function \(call.name)(\(t)) does not exist") }
            let rt: SQLType = args.count > 1 ? .numeric : (t.isInteger ? (f == .round || f == .trunc ? .numeric : .numeric) : t)
            var bound = [try coerce(args[0].0, args[0].1, to: t, call.name)]
            if args.count > 1 { bound.append(try coerce(args[1].0, args[1].1, to: .integer, call.name)) }
            return (.call(f, bound), t.isInteger && args.count == 1 ? (f == .ceil || f == .floor ? .numeric : .numeric) : rt)
        case .sqrt, .cbrt, .exp, .ln, .log10, .power, .log:
            try arity(f == .power ? 2...2 : (f == .log ? 1...2 : 1...1))
            return (.call(f, try args.map { try coerce($0.0, $0.1, to: .double, call.name) }), .double)
        case .mod, .div:
            try arity(2...2)
            let t = try unify(args.map(\.1), call.name)
            return (.call(f, args.map(\.0)), f == .div ? .numeric : (t.isInteger ? t : .numeric))
        case .pi, .random:
            try arity(0...0)
            return (.call(f, []), .double)
        case .length, .strpos, .ascii:
            try arity(f == .strpos ? 2...2 : 1...1)
            return (.call(f, try texts()), .integer)
        case .starts_with:
            try arity(2...2)
            return (.call(f, try texts()), .boolean)
        case .now:
            return (.call(f, []), .timestamptz)
        case .current_date:
            return (.call(f, []), .date)
        case .date_part:
            try arity(2...2)
            return (.call(f, [try coerce(args[0].0, args[0].1, to: .text, call.name), try coerce(args[1].0, args[1].1, to: args[1].1 == .unknown ? .timestamp : args[1].1, call.name)]), .numeric)
        case .date_trunc:
            try arity(2...2)
            let t = args[1].1 == .unknown || args[1].1 == .date ? SQLType.timestamp : args[1].1
            return (.call(f, [try coerce(args[0].0, args[0].1, to: .text, call.name), try coerce(args[1].0, args[1].1, to: t, call.name)]), t)
        case .to_timestamp:
            try arity(1...1)
            return (.call(f, [try coerce(args[0].0, args[0].1, to: .double, call.name)]), .timestamptz)
        case .gen_random_uuid:
            return (.call(f, []), .uuid)
        case .version, .current_schema, .current_database, .current_user:
            return (.call(f, []), .text)
        case .typeof:
            try arity(1...1)
            return (.call(f, args.map(\.0)), .text)
        case .current_setting:
            try arity(1...2)
            var bound = [try coerce(args[0].0, args[0].1, to: .text, call.name)]
            if args.count == 2 { bound.append(try coerce(args[1].0, args[1].1, to: .boolean, call.name)) }
            return (.call(f, bound), .text)
        case .substr, .left, .right, .repeat, .lpad, .rpad, .split_part, .chr:
            var bound: [BExpr] = []
            for (i, a) in args.enumerated() {
                let isText = (f == .lpad || f == .rpad) ? i != 1 : (f == .split_part ? i < 2 : (f == .chr ? false : i == 0))
                bound.append(try coerce(a.0, a.1, to: isText ? .text : .bigint, call.name, assignment: isText))
            }
            return (.call(f, bound), .text)
        default:
            return (.call(f, try texts()), .text)
        }
    }

    func bindAggregate(_ call: FunctionCall, _ scope: Scope, _ agg: AggregationState) throws -> AggregateSpec {
        agg.insideAggregate = true
        defer { agg.insideAggregate = false }
        if call.args.contains(where: containsAggregate) {
            throw SQLError(SQLError.groupingError, "aggregate function calls cannot be nested")
        }
        let args = try call.args.map { try bind($0, scope) }
        let filter = try call.filter.map { try coerce(try bind($0, scope).0, .boolean, to: .boolean, "FILTER") }
        return try makeAggregate(call, args, filter)
    }

    func makeAggregate(_ call: FunctionCall, _ args: [(BExpr, SQLType)], _ filter: BExpr?) throws -> AggregateSpec {
        func one() throws -> (BExpr, SQLType) {
            guard args.count == 1 else { throw SQLError(SQLError.undefinedFunction, "function \(call.name) takes one argument") }
            return args[0]
        }
        switch call.name {
        case "count":
            if call.star { return AggregateSpec(kind: .countStar, args: [], distinct: false, filter: filter, type: .bigint) }
            return AggregateSpec(kind: .count, args: [try one().0], distinct: call.distinct, filter: filter, type: .bigint)
        case "sum", "avg":
            var (x, t) = try one()
            if t == .unknown {
                x = try coerce(x, t, to: .numeric, call.name)
                t = .numeric
            }
            guard t.isNumeric else { throw SQLError(SQLError.undefinedFunction, "function \(call.name)(\(t)) does not exist") }
            let type: SQLType
            if call.name == "sum" {
                type = t == .smallint || t == .integer ? .bigint : (t == .bigint ? .numeric : t)
            } else {
                type = t.isInteger || t == .numeric ? .numeric : .double
            }
            return AggregateSpec(kind: call.name == "sum" ? .sum : .avg, args: [x], distinct: call.distinct, filter: filter, type: type)
        case "min", "max":
            var (x, t) = try one()
            if t == .unknown {
                x = try coerce(x, t, to: .text, call.name)
                t = .text
            }
            return AggregateSpec(kind: call.name == "min" ? .min : .max, args: [x], distinct: false, filter: filter, type: t)
        case "string_agg":
            guard args.count == 2 else { throw SQLError(SQLError.undefinedFunction, "function string_agg takes two arguments") }
            return AggregateSpec(kind: .stringAgg, args: [try coerce(args[0].0, args[0].1, to: .text, "string_agg", assignment: true), try coerce(args[1].0, args[1].1, to: .text, "string_agg")], distinct: call.distinct, filter: filter, type: .text)
        case "array_agg":
            let (x, t) = try one()
            guard t != .array else { throw SQLError(SQLError.featureNotSupported, "arrays of arrays are not supported") }
            return AggregateSpec(kind: .arrayAgg, args: [try coerce(x, t, to: .text, call.name, assignment: true)], distinct: call.distinct, filter: filter, type: .array)
        default:
            let (x, t) = try one()
            return AggregateSpec(kind: call.name == "bool_or" ? .boolOr : .boolAnd, args: [try coerce(x, t, to: .boolean, call.name)], distinct: false, filter: filter, type: .boolean)
        }
    }

    static let windowBase = 1_000_000

    func bindWindowCall(_ call: FunctionCall, _ scope: Scope) throws -> (BExpr, SQLType) {
        guard let ws = scope.windows, var spec = call.over else {
            throw SQLError(SQLError.windowingError, "window functions are not allowed here")
        }
        if let name = spec.name {
            guard let base = namedWindows[name] else { throw SQLError(SQLError.undefinedObject, "window \"\(name)\" does not exist") }
            if spec.partitionBy.isEmpty { spec.partitionBy = base.partitionBy }
            if spec.orderBy.isEmpty { spec.orderBy = base.orderBy }
            if spec.frame == nil { spec.frame = base.frame }
        }
        let saved = scope.windows
        scope.windows = nil
        defer { scope.windows = saved }
        let args = try call.args.map { try bind($0, scope) }
        let partition = try spec.partitionBy.map { try bind($0, scope).0 }
        let order = try spec.orderBy.map { o in
            SortKey(expr: try bind(o.expr, scope).0, descending: o.descending, nullsFirst: o.nullsFirst ?? o.descending)
        }
        var frame: WindowFrameBound? = nil
        if let f = spec.frame {
            func bound(_ b: WindowFrame.Bound) throws -> WindowFrameBound.Bound {
                switch b {
                case .unboundedPreceding: return .unboundedPreceding
                case .unboundedFollowing: return .unboundedFollowing
                case .currentRow: return .currentRow
                case .preceding(let e): return .preceding(try bind(e, scope).0)
                case .following(let e): return .following(try bind(e, scope).0)
                }
            }
            frame = WindowFrameBound(rows: f.rows, start: try bound(f.start), end: try bound(f.end))
        }
        var wc = WindowCall(kind: .aggregate, aggregate: nil, args: args.map(\.0), partitionBy: partition, orderBy: order, frame: frame)
        var type: SQLType = .bigint
        switch call.name {
        case "row_number": wc.kind = .rowNumber
        case "rank": wc.kind = .rank
        case "dense_rank": wc.kind = .denseRank
        case "percent_rank": wc.kind = .percentRank; type = .double
        case "cume_dist": wc.kind = .cumeDist; type = .double
        case "ntile": wc.kind = .ntile; type = .integer
        case "lag", "lead", "first_value", "last_value", "nth_value":
            guard let first = args.first else { throw SQLError(SQLError.undefinedFunction, "function \(call.name)() does not exist") }
            wc.kind = ["lag": .lag, "lead": .lead, "first_value": .firstValue, "last_value": .lastValue, "nth_value": .nthValue][call.name]!
            type = first.1 == .unknown ? .text : first.1
            if args.count > 2, wc.kind == .lag || wc.kind == .lead {
                wc.args[2] = try coerce(args[2].0, args[2].1, to: type, call.name)
            }
        default:
            guard Planner.aggregateNames.contains(call.name) else {
                throw SQLError(SQLError.undefinedFunction, "function \(call.name) is not a window function")
            }
            let filter = try call.filter.map { try bind($0, scope).0 }
            let agg = try makeAggregate(call, args, filter)
            wc.aggregate = agg
            type = agg.type
        }
        ws.calls.append(wc)
        ws.types.append(type)
        return (.column(Planner.windowBase + ws.calls.count - 1), type)
    }

    func containsAggregate(_ e: Expr) -> Bool {
        var found = false
        Planner.walk(e) { sub in
            if case .function(let c) = sub, c.over == nil, Planner.aggregateNames.contains(c.name) { found = true }
        }
        return found
    }

    func containsWindow(_ e: Expr) -> Bool {
        var found = false
        Planner.walk(e) { sub in
            if case .function(let c) = sub, c.over != nil { found = true }
        }
        return found
    }

    /// Visits `e` and its sub-expressions, not descending into subqueries.
    static func walk(_ e: Expr, _ visit: (Expr) -> Void) {
        visit(e)
        switch e {
        case .literal, .string, .typedString, .column, .parameter, .exists, .subquery, .defaultValue: break
        case .unary(_, let a), .isNull(let a, _), .isTruth(let a, _, _), .cast(let a, _), .inSubquery(let a, _, _), .quantified(_, let a, _, _):
            walk(a, visit)
        case .binary(_, let a, let b), .isDistinct(let a, let b, _):
            walk(a, visit)
            walk(b, visit)
        case .between(let a, let b, let c, _, _):
            walk(a, visit)
            walk(b, visit)
            walk(c, visit)
        case .inList(let a, let l, _):
            walk(a, visit)
            for x in l { walk(x, visit) }
        case .like(let a, let b, let c, _, _):
            walk(a, visit)
            walk(b, visit)
            if let c { walk(c, visit) }
        case .caseWhen(let o, let w, let other):
            if let o { walk(o, visit) }
            for x in w {
                walk(x.condition, visit)
                walk(x.result, visit)
            }
            if let other { walk(other, visit) }
        case .function(let c):
            for a in c.args { walk(a, visit) }
            if let f = c.filter { walk(f, visit) }
        case .row(let l):
            for x in l { walk(x, visit) }
        }
    }
}

