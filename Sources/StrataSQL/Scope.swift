/// The names visible to an expression: the relations of a FROM clause laid out side by
/// side in one row, and the enclosing query's scope for correlated references.
final class Scope {
    struct Relation {
        var name: String
        var columns: [ResultColumn]
        var offset: Int
        /// Columns that `*` leaves out (time travel system columns stay visible).
        var hiddenFromStar: Set<Int> = []
    }

    var relations: [Relation] = []
    var width = 0
    let parent: Scope?
    /// When set, the query aggregates: plain columns resolve only through GROUP BY keys.
    var aggregation: AggregationState?

    /// Nesting depth: 0 for the outermost query.
    let depth: Int
    /// When set, window functions may be used; they become columns after the window node's input.
    var windows: WindowState?

    init(parent: Scope?) {
        self.parent = parent
        depth = (parent?.depth ?? -1) + 1
    }

    /// Adds a relation at the end of the row; returns its offset.
    @discardableResult
    func add(_ name: String, _ columns: [ResultColumn]) -> Int {
        let offset = width
        relations.append(Relation(name: name, columns: columns, offset: offset))
        width += columns.count
        return offset
    }

    /// Finds `table.name` (or `name`) in this scope only: position and type.
    func lookup(table: String?, name: String) throws -> (Int, SQLType)? {
        var found: (Int, SQLType)? = nil
        var tableSeen = false
        for rel in relations {
            if let table, rel.name != table { continue }
            tableSeen = true
            for (i, c) in rel.columns.enumerated() where c.name == name {
                if found != nil {
                    throw SQLError(SQLError.ambiguousColumn, "column reference \"\(name)\" is ambiguous")
                }
                found = (rel.offset + i, c.type)
            }
        }
        if let table, !tableSeen, found == nil, try parent?.hasRelation(table) != true {
            throw SQLError(SQLError.undefinedTable, "missing FROM-clause entry for table \"\(table)\"")
        }
        return found
    }

    func hasRelation(_ name: String) throws -> Bool {
        if relations.contains(where: { $0.name == name }) { return true }
        return try parent?.hasRelation(name) ?? false
    }

    /// The relation index that owns slot `i`.
    func relation(ofSlot i: Int) -> Int? {
        relations.lastIndex { $0.offset <= i && i < $0.offset + $0.columns.count }
    }
}

/// Group keys and aggregates collected while binding an aggregating query.
final class AggregationState {
    var groups: [BExpr]
    var groupTypes: [SQLType]
    var aggregates: [AggregateSpec] = []
    /// While binding an aggregate's arguments, columns resolve to the input row.
    var insideAggregate = false

    init(groups: [BExpr], groupTypes: [SQLType]) {
        self.groups = groups
        self.groupTypes = groupTypes
    }

    /// The output position of aggregate `spec`, adding it if new.
    func position(of spec: AggregateSpec) -> Int {
        if let i = aggregates.firstIndex(of: spec) { return groups.count + i }
        aggregates.append(spec)
        return groups.count + aggregates.count - 1
    }
}

/// Window functions collected while binding a query's select list and ORDER BY.
final class WindowState {
    var calls: [WindowCall] = []
    var types: [SQLType] = []
}
