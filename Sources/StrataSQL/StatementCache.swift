import StrataEngine

/// A session's statements by shape: SQL text that differs only in literals (`... WHERE
/// aid = 17`, `... WHERE aid = 42`) is parsed and planned once and then runs as a
/// prepared statement with the literals as parameters, the way PostgreSQL clients that
/// interpolate values on their side (pgbench `-M simple`, psycopg, SQLAlchemy) send
/// their statements. Looking a statement up costs one pass of the lexer.
///
/// Which literals become parameters is ``LiteralLifter``'s choice; the others must
/// match the cached entry's exactly. A shape whose literals keep changing where they
/// cannot be parameters stops being cached after a few misses.
final class StatementCache {
    /// A statement shape.
    struct Entry {
        /// nil when statements of this shape are parsed as usual.
        var prepared: PreparedStatement?
        /// A statement with no literals that is not prepared (`BEGIN`, `COMMIT`, DDL): its
        /// text always parses to this.
        var parsed: Statement?
        var lifted: [LiteralLifter.Lifted] = []
        /// For each lifted string literal (by parameter index), the type it converts to.
        var stringTypes: [Int: SQLType] = [:]
        /// Literals put back into the statement: a statement matches only with the same ones.
        var fixed: [Int: Token.Kind] = [:]
        /// The catalog the string types were inferred from.
        var catalog: Catalog?
        /// Statements of this shape that did not match.
        var misses = 0
    }

    /// The most shapes kept; past that the cache starts over.
    static let capacity = 256
    /// Misses after which a shape is no longer cached.
    static let maxMisses = 8

    /// By shape; `ByteKey` hashes a shape in one pass, `[UInt8]` one byte at a time.
    var entries: [ByteKey: Entry] = [:]
    /// Statements answered from the cache (for tests and `EXPLAIN`-free checks).
    private(set) var hits = 0

    /// The shape of `sql`: its bytes with each literal replaced by a marker of its kind,
    /// and the literal tokens in order; nil for text with parameters or several statements.
    static func shape(_ sql: String) -> (key: [UInt8], literals: [Token])? {
        var lexer = Lexer(sql)
        lexer.skipsWords = true
        var key: [UInt8] = []
        key.reserveCapacity(lexer.bytes.count)
        var literals: [Token] = []
        literals.reserveCapacity(4)
        var copied = 0
        var ended = false
        while true {
            guard let t = try? lexer.next() else { return nil }
            switch t.kind {
            case .end:
                key.append(contentsOf: lexer.bytes[copied...])
                return (key, literals)
            case .parameter:
                return nil
            case .symbol(";"):
                ended = true
                continue
            case .integer, .decimal, .string:
                if ended { return nil }
                key.append(contentsOf: lexer.bytes[copied..<t.range.lowerBound])
                key.append(0)
                key.append(t.kind.literalMarker)
                copied = t.range.upperBound
                literals.append(t)
            default:
                if ended { return nil }
            }
        }
    }

    /// The values of an entry's parameters taken from `literals`; nil when they do not
    /// fit the entry (a put-back literal differs, an integer outgrew its type, a string
    /// does not convert), so the statement must be parsed as usual.
    static func parameters(_ entry: Entry, _ literals: [Token]) -> [SQLValue]? {
        for (i, kind) in entry.fixed where literals[i].kind != kind { return nil }
        var values: [SQLValue] = []
        values.reserveCapacity(entry.lifted.count)
        for (p, lifted) in entry.lifted.enumerated() {
            let kind = literals[lifted.literal].kind
            if let type = lifted.type {
                guard let v = Parser.constant(kind), Cast.typeOf(v) == type else { return nil }
                values.append(v)
                continue
            }
            guard case .string(let s) = kind, let type = entry.stringTypes[p] else { return nil }
            if type == .text {
                values.append(.text(s))
            } else {
                guard let v = try? Cast.cast(.text(s), to: type, length: nil, explicit: true) else { return nil }
                values.append(v)
            }
        }
        return values
    }

    /// SQL text with literal `n` replaced by `$n+1`.
    static func placeholderText(_ sql: String, _ literals: [Token]) -> String {
        let bytes = Array(sql.utf8)
        var out: [UInt8] = []
        var copied = 0
        for (n, t) in literals.enumerated() {
            out.append(contentsOf: bytes[copied..<t.range.lowerBound])
            out.append(contentsOf: " $\(n + 1) ".utf8)
            copied = t.range.upperBound
        }
        out.append(contentsOf: bytes[copied...])
        return String(decoding: out, as: UTF8.self)
    }

    func store(_ key: ByteKey, _ entry: Entry) {
        if entries.count >= StatementCache.capacity, entries[key] == nil { entries.removeAll() }
        entries[key] = entry
    }

    func countHit() { hits += 1 }
}

/// A statement found by ``Session/cachedStatement(_:)``.
public enum CachedStatement {
    /// A prepared statement of the text's shape and the text's literals as its parameters.
    case prepared(PreparedStatement, [SQLValue])
    /// The statement the text (which has no literals) parsed to.
    case parsed(Statement)
}

extension Token.Kind {
    /// The byte that stands for a literal of this kind in a statement's shape.
    var literalMarker: UInt8 {
        switch self {
        case .integer: 1
        case .decimal: 2
        default: 3
        }
    }
}

extension Session {
    /// `sql` as a prepared statement of its shape with the literals that are its
    /// parameters, or as the statement it parsed to before; nil when `sql` should be parsed
    /// and run as usual (several statements, a kind of statement that is not cached, an
    /// error while planning it).
    public func cachedStatement(_ sql: String) async -> CachedStatement? {
        guard cachesStatements else { return nil }
        guard let (shape, literals) = StatementCache.shape(sql) else { return nil }
        let key = ByteKey(shape)
        var misses = 0
        if let entry = statementCache.entries[key] {
            if let parsed = entry.parsed {
                statementCache.countHit()
                return .parsed(parsed)
            }
            guard let prepared = entry.prepared else { return nil }
            var current = entry.stringTypes.isEmpty
            if !current, let catalog = try? await catalog(currentSource()) { current = entry.catalog === catalog }
            if current, let values = StatementCache.parameters(entry, literals) {
                statementCache.countHit()
                return .prepared(prepared, values)
            }
            misses = entry.misses + 1
            if misses > StatementCache.maxMisses {
                statementCache.store(key, StatementCache.Entry(prepared: nil))
                return nil
            }
        }
        guard var entry = await makeEntry(sql, literals) else { return nil }
        entry.misses = misses
        statementCache.store(key, entry)
        if let parsed = entry.parsed { return .parsed(parsed) }
        guard let prepared = entry.prepared else { return nil }
        return StatementCache.parameters(entry, literals).map { .prepared(prepared, $0) }
    }

    /// A cache entry for `sql`: parsed with its literals as placeholders, lifted, and its
    /// string parameters typed from their context. An entry with no statement when the
    /// shape is not cacheable; nil when planning failed (the usual path reports why).
    private func makeEntry(_ sql: String, _ literals: [Token]) async -> StatementCache.Entry? {
        let kinds = literals.map(\.kind)
        guard let parsed = try? Parser.parseAtMostOne(StatementCache.placeholderText(sql, literals)) else {
            return StatementCache.Entry(prepared: nil)
        }
        var excluded = Set<Int>()
        // At most two rounds: the second puts back strings whose type nothing tells.
        for _ in 0..<2 {
            guard let (statement, lifted) = LiteralLifter.lift(parsed, literals: kinds, allowed: { !excluded.contains($0) }) else {
                return StatementCache.Entry(prepared: nil, parsed: literals.isEmpty ? parsed : nil)
            }
            let prepared = PreparedStatement(statement: statement, sql: sql)
            guard lifted.contains(where: { $0.type == nil }) else {
                return StatementCache.Entry(prepared: prepared, lifted: lifted, fixed: fixed(kinds, lifted))
            }
            guard let catalog = try? await catalog(currentSource()),
                  let (types, _) = try? await describe(statement, parameterCount: lifted.count)
            else { return nil }
            var stringTypes: [Int: SQLType] = [:]
            var untyped = Set<Int>()
            for (p, l) in lifted.enumerated() where l.type == nil {
                if let t = types[p], t != .unknown { stringTypes[p] = t } else { untyped.insert(l.literal) }
            }
            if untyped.isEmpty {
                return StatementCache.Entry(prepared: prepared, lifted: lifted, stringTypes: stringTypes, fixed: fixed(kinds, lifted), catalog: catalog)
            }
            excluded.formUnion(untyped)
        }
        return StatementCache.Entry(prepared: nil)
    }

    private func fixed(_ kinds: [Token.Kind], _ lifted: [LiteralLifter.Lifted]) -> [Int: Token.Kind] {
        let liftedLiterals = Set(lifted.map(\.literal))
        var out: [Int: Token.Kind] = [:]
        for (i, k) in kinds.enumerated() where !liftedLiterals.contains(i) { out[i] = k }
        return out
    }
}
