/// Binding of what the system catalogs bring: their relations, the functions that
/// describe catalog objects, casts to `regclass`/`regtype`, and arrays.
extension Planner {
    /// Adds system relation `name` (e.g. `pg_class`) to FROM; false when there is none.
    func registerSystemRelation(_ name: String, _ cat: Catalog, _ alias: String?, _ columnAliases: [String], _ scope: Scope, _ units: inout [FromNode]) throws -> Bool {
        guard name.hasPrefix("pg_") || name.hasPrefix("information_schema."),
              let relation = SystemCatalog(cat).relation(name, viewColumns: { self.viewColumns($0, cat) })
        else { return false }
        let plan: Plan = .values(relation.rows, width: relation.columns.count)
        let shown = alias ?? String(name.split(separator: ".").last!)
        try addLeaf(.query(plan), shown, try rename(relation.columns, columnAliases, shown), scope, &units)
        return true
    }

    /// `unnest(array)` (or `pg_partition_ancestors(oid)`, the one-element set of its
    /// argument, since no table is partitioned) in FROM.
    func registerUnnest(_ call: FunctionCall, _ alias: String?, _ columnAliases: [String], _ ordinality: Bool, _ scope: Scope, _ units: inout [FromNode]) throws {
        guard call.args.count == 1 else {
            throw SQLError(SQLError.undefinedFunction, "function \(call.name) with \(call.args.count) arguments does not exist")
        }
        let (x, t) = try bind(call.args[0], Scope(parent: scope.parent))
        let source: BExpr
        let column: ResultColumn
        if call.name == "unnest" {
            guard t == .array || t == .unknown else { throw SQLError(SQLError.undefinedFunction, "function unnest(\(t)) does not exist") }
            source = try coerce(x, t, to: .array, "unnest")
            column = ResultColumn(name: "unnest", type: .text)
        } else {
            source = .call(.arrayConstructor, [try coerce(try coerce(x, t, to: .bigint, call.name), .bigint, to: .text, call.name, assignment: true)])
            column = ResultColumn(name: "relid", type: .bigint)
        }
        let name = alias ?? call.name
        var cols = [column] + (ordinality ? [ResultColumn(name: "ordinality", type: .bigint)] : [])
        if columnAliases.isEmpty, alias != nil, !ordinality { cols[0].name = name }
        try addLeaf(.unnest(source, element: column.type, ordinality: ordinality), name, try rename(cols, columnAliases, name), scope, &units)
    }

    /// A view's output columns, or nil when its query no longer plans.
    func viewColumns(_ view: ViewInfo, _ cat: Catalog) -> [ResultColumn]? {
        guard viewDepth < 8, case .select(let q)? = try? Parser.parseOne(view.sql) else { return nil }
        let sub = Planner(catalog: cat, temporal: temporal, parameterTypes: [:])
        sub.viewDepth = viewDepth + 1
        guard var cols = try? sub.planQuery(q, nil).1 else { return nil }
        for (i, n) in view.columns.enumerated() where i < cols.count { cols[i].name = n }
        return cols
    }

    /// `ANY(array)` of a single array-valued expression; nil when `item` is no array.
    func bindArrayMembership(_ x: (BExpr, SQLType), _ item: (BExpr, SQLType), negated: Bool) throws -> BExpr? {
        guard item.1 == .array, x.1 != .array else { return nil }
        let call = BExpr.call(.arrayContains, [try coerce(x.0, x.1, to: .text, "ANY", assignment: true), item.0])
        return negated ? .not(call) : call
    }

    /// `a || b` where either side is an array: both become arrays, then they are joined.
    func bindArrayConcat(_ a: (BExpr, SQLType), _ b: (BExpr, SQLType)) throws -> (BExpr, SQLType)? {
        guard a.1 == .array || b.1 == .array else { return nil }
        func array(_ x: (BExpr, SQLType)) throws -> BExpr {
            if x.1 == .array || x.1 == .unknown { return try coerce(x.0, x.1, to: .array, "||") }
            return .call(.arrayConstructor, [try coerce(x.0, x.1, to: .text, "||", assignment: true)])
        }
        return (.call(.arrayConcat, [try array(a), try array(b)]), .array)
    }

    /// A cast to `regclass`, `regtype`, `regnamespace` or `regrole`: an OID becomes the
    /// object's name (the number itself when there is none); a name becomes its OID.
    func bindCatalogCast(_ x: BExpr, _ t: SQLType, _ lookup: CatalogLookup) throws -> (BExpr, SQLType) {
        let system = SystemCatalog(catalog)
        let names: [(Int64, String)] = switch lookup {
        case .regclass: system.relationNames
        case .regtype: SystemCatalog.types.map { ($0.oid, $0.display) }
        case .regnamespace: SystemCatalog.namespaces
        case .regrole: system.roleNames
        }
        if t.isInteger {
            let pairs = names.map { (SQLValue.int($0.0), SQLValue.text($0.1)) }
            return (choose(x, pairs, otherwise: .cast(x, .text, length: nil)), .text)
        }
        let text = try coerce(x, t, to: .text, "::\(lookup.rawValue)")
        var pairs = names.map { (SQLValue.text($0.1), SQLValue.int($0.0)) }
        if lookup == .regtype { pairs += SystemCatalog.types.map { (SQLValue.text($0.name), SQLValue.int($0.oid)) } }
        if case .const(let v) = text {
            guard let s = v.text else { return (.const(.null), .bigint) }
            if let n = Int64(s) { return (.const(.int(n)), .bigint) }
            let name = SystemCatalog.objectName(s)
            guard let hit = pairs.first(where: { $0.0 == .text(name) }) else {
                switch lookup {
                case .regclass: throw SQLError(SQLError.undefinedTable, "relation \"\(s)\" does not exist")
                case .regtype: throw SQLError(SQLError.undefinedObject, "type \"\(s)\" does not exist")
                case .regnamespace: throw SQLError(SQLError.Code(sqlState: "3F000", name: "invalid schema name"), "schema \"\(s)\" does not exist")
                case .regrole: throw SQLError(SQLError.undefinedObject, "role \"\(s)\" does not exist")
                }
            }
            return (.const(hit.1), .bigint)
        }
        return (choose(text, pairs, otherwise: .cast(text, .bigint, length: nil)), .bigint)
    }

    /// The value paired with `x`'s, or `otherwise`: folded now for a constant, else a CASE.
    func choose(_ x: BExpr, _ pairs: [(SQLValue, SQLValue)], otherwise: BExpr) -> BExpr {
        if case .const(let v) = x {
            if v.isNull { return .const(.null) }
            if let hit = pairs.first(where: { (try? Evaluator.compare($0.0, v)) == 0 }) { return .const(hit.1) }
            if case .cast(.const, let type, let length) = otherwise {
                return .const((try? Cast.cast(v, to: type, length: length, explicit: true)) ?? .null)
            }
        }
        guard !pairs.isEmpty else { return otherwise }
        return .caseWhen(pairs.flatMap { [BExpr.compare(.eq, x, .const($0.0)), .const($0.1)] }, otherwise: otherwise)
    }

    /// Functions of the system catalogs and arrays; nil when `call` is none of them.
    func bindSystemFunction(_ call: FunctionCall, _ scope: Scope) throws -> (BExpr, SQLType)? {
        let name = call.name
        func args(_ range: ClosedRange<Int>) throws -> [(BExpr, SQLType)] {
            guard range.contains(call.args.count) else {
                throw SQLError(SQLError.undefinedFunction, "function \(name) with \(call.args.count) arguments does not exist")
            }
            return try call.args.map { try bind($0, scope) }
        }
        func oid(_ a: (BExpr, SQLType)) throws -> BExpr { try coerce(a.0, a.1, to: .bigint, name) }
        func text(_ a: (BExpr, SQLType)) throws -> BExpr { try coerce(a.0, a.1, to: .text, name, assignment: true) }
        func array(_ a: (BExpr, SQLType)) throws -> BExpr {
            guard a.1 == .array || a.1 == .unknown else {
                throw SQLError(SQLError.undefinedFunction, "function \(name)(\(a.1)) does not exist")
            }
            return try coerce(a.0, a.1, to: .array, name)
        }
        let system = SystemCatalog(catalog)
        switch name {
        case Parser.arrayFunction:
            return (.call(.arrayConstructor, try args(0...100_000).map(text)), .array)
        case Parser.arrayQueryFunction:
            guard case .subquery(let q) = call.args.first else { return nil }
            let (plan, cols, correlated) = try planSubquery(q, scope)
            guard cols.count == 1 else { throw SQLError(SQLError.syntaxError, "subquery must return only one column") }
            let element = try coerce(.column(0), cols[0].type, to: .text, "ARRAY", assignment: true)
            let spec = AggregateSpec(kind: .arrayAgg, args: [element], distinct: false, filter: nil, type: .array)
            let sub = addSubquery(SubqueryPlan(kind: .scalar, plan: .aggregate(plan, groups: [], aggregates: [spec]), correlated: correlated))
            return (.call(.coalesce, [.subquery(sub), .const(.text("{}"))]), .array)
        case Parser.subscriptFunction:
            let a = try args(2...2)
            return (.call(.arrayElement, [try array(a[0]), try coerce(a[1].0, a[1].1, to: .bigint, "subscript")]), .unknown)
        case "array_to_string":
            let a = try args(2...3)
            return (.call(.array_to_string, [try array(a[0])] + (try a.dropFirst().map(text))), .text)
        case "array_upper", "array_lower", "array_length":
            let a = try args(2...2)
            return (.call(Function(rawValue: name)!, [try array(a[0]), try coerce(a[1].0, a[1].1, to: .bigint, name)]), .integer)
        case "cardinality":
            return (.call(.cardinality, [try array(try args(1...1)[0])]), .integer)
        case "format_type":
            let a = try args(2...2)
            return (.call(.format_type, [try oid(a[0]), try coerce(a[1].0, a[1].1, to: .bigint, name)]), .text)
        case "pg_encoding_to_char":
            return (.call(.pg_encoding_to_char, [try coerce(try args(1...1)[0].0, try args(1...1)[0].1, to: .bigint, name)]), .text)
        case "quote_ident":
            return (.call(.quote_ident, [try text(try args(1...1)[0])]), .text)
        case "current_schemas":
            let a = try args(1...1)
            let withImplicit = try coerce(a[0].0, a[0].1, to: .boolean, name)
            return (.caseWhen([withImplicit, .const(.text("{pg_catalog,public}"))], otherwise: .const(.text("{public}"))), .array)
        case "pg_get_userbyid":
            let x = try oid(try args(1...1)[0])
            let unknown = BExpr.concat(.concat(.const(.text("unknown (OID=")), .cast(x, .text, length: nil)), .const(.text(")")))
            return (choose(x, system.roleNames.map { (.int($0.0), .text($0.1)) }, otherwise: unknown), .text)
        case "pg_get_indexdef":
            let x = try oid(try args(1...3)[0])
            return (choose(x, system.indexDefinitions.map { (.int($0.0), .text($0.1)) }, otherwise: .const(.null)), .text)
        case "pg_get_constraintdef":
            let x = try oid(try args(1...2)[0])
            return (choose(x, system.constraints.map { (.int($0.oid), .text($0.definition)) }, otherwise: .const(.null)), .text)
        case "pg_get_viewdef":
            let a = try args(1...2)[0]
            if a.1.isInteger {
                return (choose(try oid(a), system.sortedViews.map { (.int(SystemCatalog.oid(view: $0.name)), .text($0.sql)) }, otherwise: .const(.null)), .text)
            }
            return (choose(try text(a), system.sortedViews.map { (.text($0.name), .text($0.sql)) }, otherwise: .const(.null)), .text)
        case "pg_get_expr":
            // Strata keeps default and check expressions as SQL text, which is what this prints.
            return (try text(try args(2...3)[0]), .text)
        case "pg_get_triggerdef", "pg_get_statisticsobjdef_columns", "pg_get_partkeydef", "pg_get_serial_sequence",
             "obj_description", "col_description", "shobj_description", "pg_get_function_identity_arguments":
            _ = try args(1...3)
            return (.const(.null), .text)
        case "pg_table_is_visible", "pg_type_is_visible", "pg_function_is_visible":
            return (.isNull(try oid(try args(1...1)[0]), negated: true), .boolean)
        case "pg_relation_is_publishable", "pg_is_in_recovery":
            _ = try args(0...1)
            return (.const(.bool(false)), .boolean)
        case "has_table_privilege", "has_schema_privilege", "has_database_privilege", "has_column_privilege",
             "has_any_column_privilege", "has_function_privilege", "has_sequence_privilege":
            // Strata has no privileges: every role may do everything.
            _ = try args(1...4)
            return (.const(.bool(true)), .boolean)
        case "to_regclass", "to_regtype", "to_regnamespace", "to_regrole":
            let a = try text(try args(1...1)[0])
            let lookup = CatalogLookup(rawValue: "reg" + name.dropFirst("to_reg".count))!
            if case .const(let v) = a {
                return ((try? bindCatalogCast(.const(v), .text, lookup).0) ?? .const(.null), .bigint)
            }
            let (e, _) = try bindCatalogCast(a, .text, lookup)
            guard case .caseWhen(let whens, _) = e else { return (e, .bigint) }
            return (.caseWhen(whens, otherwise: .const(.null)), .bigint)
        case "set_config":
            let a = try args(3...3)
            return (.call(.set_config, [try text(a[0]), try text(a[1]), try coerce(a[2].0, a[2].1, to: .boolean, name)]), .text)
        case "nextval":
            return (.call(.nextval, [try text(try args(1...1)[0])]), .bigint)
        case "pg_partition_ancestors":
            // No table is partitioned: a relation is its own only ancestor.
            return (try oid(try args(1...1)[0]), .bigint)
        default:
            return nil
        }
    }
}

extension SystemCatalog {
    /// The object a `regclass`/`regtype` input names: without its schema, folded to
    /// lower case unless quoted.
    static func objectName(_ input: String) -> String {
        var s = Substring(input.trimmingSpaces())
        for schema in ["pg_catalog.", "public.", "information_schema."] where s.lowercased().hasPrefix(schema) {
            s = s.dropFirst(schema.count)
        }
        if s.hasPrefix("\""), s.hasSuffix("\""), s.count >= 2 {
            return String(s.dropFirst().dropLast()).replacing("\"\"", with: "\"")
        }
        return s.lowercased()
    }
}
