import StrataEngine
import StrataSQL
import StrataStore
import Synchronization
import Testing

/// A flag one task sets and another waits for.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }

    /// Waits until the flag is set or five seconds have passed.
    func eventually() async throws {
        for _ in 0..<1000 where !isSet { try await Task.sleep(for: .milliseconds(5)) }
    }
}

/// A session on a fresh in-memory database.
func memorySession() async throws -> Session {
    Session(engine: try await Engine.open(MemoryStore()))
}

extension Session {
    /// The rows of the last statement in `sql`, as PostgreSQL text ("NULL" for NULL).
    func rows(_ sql: String, _ params: [SQLValue] = []) async throws -> [[String]] {
        let results = try await execute(sql, params)
        return results.last?.rows.map { $0.map { $0.text ?? "NULL" } } ?? []
    }

    /// The command tag of the last statement in `sql`.
    func tag(_ sql: String, _ params: [SQLValue] = []) async throws -> String {
        try await execute(sql, params).last?.tag ?? ""
    }

    /// The SQLSTATE `sql` fails with, or nil when it succeeds.
    func sqlState(_ sql: String) async -> String? {
        await StrataSQLTests.sqlState { _ = try await self.execute(sql) }
    }
}

/// The SQLSTATE `body` fails with, or nil when it succeeds ("?" for an error without one).
func sqlState(_ body: () async throws -> Void) async -> String? {
    do {
        try await body()
        return nil
    } catch let e as SQLError {
        return e.sqlState
    } catch let e as EngineError {
        return e.sqlState
    } catch {
        return "?"
    }
}
