import FoundationEssentials

/// One row of a query result: values by position or column name, or decoded.
public struct Row: Sendable, CustomStringConvertible {
    /// The result's columns.
    public let columns: [ResultColumn]
    /// The values, one per column.
    public let values: [SQLValue]

    static func rows(_ result: StatementResult) -> [Row] {
        result.rows.map { Row(columns: result.columns, values: $0) }
    }

    /// The value at `index`.
    public subscript(index: Int) -> SQLValue { values[index] }

    /// The value of the first column named `name`, or nil when there is none.
    public subscript(name: String) -> SQLValue? {
        columns.firstIndex { $0.name == name }.map { values[$0] }
    }

    /// Decodes the row into `T`, matching coding keys to column names.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try T(from: RowDecoder(row: self))
    }

    public var description: String { values.map { $0.text ?? "NULL" }.joined(separator: "|") }
}

/// Decodes a ``Row`` into a `Decodable` value (flat: one column per property).
struct RowDecoder: Decoder {
    let row: Row
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Keyed<Key>(row: row))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([SQLValue].self, .init(codingPath: codingPath, debugDescription: "rows decode as keyed containers"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        guard row.values.count == 1 else {
            throw DecodingError.typeMismatch(SQLValue.self, .init(codingPath: codingPath, debugDescription: "a single value needs a one-column row"))
        }
        return Single(value: row.values[0], codingPath: codingPath)
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let row: Row
        var codingPath: [any CodingKey] = []
        var allKeys: [Key] { row.columns.compactMap { Key(stringValue: $0.name) } }

        func contains(_ key: Key) -> Bool { row[key.stringValue] != nil }

        func value(_ key: Key) throws -> SQLValue {
            guard let v = row[key.stringValue] else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no column named \(key.stringValue)"))
            }
            return v
        }

        func decodeNil(forKey key: Key) throws -> Bool { try value(key).isNull }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try T(from: SingleDecoder(value: try value(key), codingPath: codingPath + [key]))
        }

        func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
            throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "nested values are not supported"))
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            throw DecodingError.typeMismatch([SQLValue].self, .init(codingPath: codingPath, debugDescription: "nested values are not supported"))
        }

        func superDecoder() throws -> any Decoder { RowDecoder(row: row) }
        func superDecoder(forKey key: Key) throws -> any Decoder { RowDecoder(row: row) }
    }

    struct SingleDecoder: Decoder {
        let value: SQLValue
        var codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "a column holds one value"))
        }

        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            throw DecodingError.typeMismatch([SQLValue].self, .init(codingPath: codingPath, debugDescription: "a column holds one value"))
        }

        func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(value: value, codingPath: codingPath) }
    }

    struct Single: SingleValueDecodingContainer {
        let value: SQLValue
        var codingPath: [any CodingKey]

        func decodeNil() -> Bool { value.isNull }

        func mismatch<T>(_ type: T.Type) -> DecodingError {
            DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "cannot decode \(value) as \(type)"))
        }

        func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
            guard case .int(let i) = value, let v = T(exactly: i) else { throw mismatch(type) }
            return v
        }

        func decode(_ type: Bool.Type) throws -> Bool {
            guard case .bool(let b) = value else { throw mismatch(type) }
            return b
        }
        func decode(_ type: String.Type) throws -> String {
            guard !value.isNull, let t = value.text else { throw mismatch(type) }
            return t
        }
        func decode(_ type: Double.Type) throws -> Double {
            switch value {
            case .double(let d): return d
            case .int(let i): return Double(i)
            case .numeric(let d): return Double(d.description) ?? .nan
            default: throw mismatch(type)
            }
        }
        func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
        func decode(_ type: Int.Type) throws -> Int { try integer(type) }
        func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
        func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
        func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
        func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
        func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            if type == [UInt8].self, case .bytes(let b) = value { return b as! T }
            if type == Decimal.self, case .numeric(let d) = value { return d as! T }
            return try T(from: SingleDecoder(value: value, codingPath: codingPath))
        }
    }
}
