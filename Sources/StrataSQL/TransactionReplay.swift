import StrataEngine

/// What an explicit transaction ran and what each statement returned, so that a commit
/// that loses an optimistic race can be retried inside the server instead of failing
/// with 40001 at the client.
///
/// The replay runs the same statements in a new transaction (with the same `now()`) and
/// commits it only if every statement returns exactly what the client already saw: the
/// committed transaction is then a serial execution that produced those very results, so
/// serializability holds from the client's point of view. A different answer, an error,
/// or a transaction with DDL, SET, savepoints or too much to remember fails with 40001 as
/// before. This is what lets TPC-B's updates of one hot row commit without client retries.
final class TransactionReplay {
    /// A statement with its parameters and what it returned.
    struct Step {
        var statement: Statement
        var parameters: [SQLValue]
        var result: StatementResult
        /// The prepared statement it came from, whose plans the replay reuses.
        var prepared: PreparedStatement?
    }

    var steps: [Step] = []
    /// Values remembered so far (parameters and result cells), bounded by `limit`.
    private var values = 0
    static let limit = 100_000
    static let attempts = 10

    /// Remembers one statement; false when the transaction can no longer be replayed.
    func add(_ statement: Statement, _ parameters: [SQLValue], _ result: StatementResult, _ prepared: PreparedStatement?) -> Bool {
        switch statement {
        case .select, .insert, .update, .delete: break
        default: return false
        }
        values += parameters.count + result.rows.reduce(0) { $0 + $1.count } + 1
        guard values <= TransactionReplay.limit else { return false }
        steps.append(Step(statement: statement, parameters: parameters, result: result, prepared: prepared))
        return true
    }
}

extension Session {
    /// Adds a statement that ran in the explicit transaction to its replay log.
    func record(_ statement: Statement, _ parameters: [SQLValue], _ result: StatementResult, prepared: PreparedStatement? = nil) {
        guard transaction != nil, let log = transactionLog else { return }
        switch statement {
        case .begin, .commit, .rollback, .explain, .show: return
        default: break
        }
        if !log.add(statement, parameters, result, prepared) { transactionLog = nil }
    }

    /// Runs `log` again in new transactions until one commits with the same results
    /// (at most ``TransactionReplay/attempts`` times); otherwise throws 40001.
    func replay(_ log: TransactionReplay) async throws {
        var attempt = 0
        while true {
            attempt += 1
            // One re-run at a time: concurrent re-runs of transactions that write one hot
            // row would each invalidate the next.
            let committed = try await engine.replayLock.withLock { try await replayOnce(log, attempt: attempt) }
            if committed { return }
            try? await Task.sleep(for: .microseconds(Int.random(in: 0...(100 << min(attempt, 6)))))
        }
    }

    /// One re-run of `log`: true when it committed, false when it lost again and may be
    /// tried again; throws 40001 when it may not.
    private func replayOnce(_ log: TransactionReplay, attempt: Int) async throws -> Bool {
        _ = try? await engine.refresh()
        let tx = engine.beginTransaction()
        tx.commitPriority = attempt
        transaction = tx
        transactionFailed = false
        catalogDirty = false
        savepoints = []
        defer { tx.releaseLocks() }
        do {
            for step in log.steps {
                let result = try await executeStatement(step.statement, step.parameters, prepared: step.prepared)
                guard result == step.result else {
                    throw EngineError(EngineError.serializationFailure, "could not serialize access due to a concurrent update")
                }
            }
            transaction = nil
            _ = try await engine.commit(tx)
            replayedCommits += 1
            return true
        } catch EngineError.serializationFailure where attempt < TransactionReplay.attempts {
            transaction = nil
            return false
        } catch {
            // An error the first run did not have (a unique key taken meanwhile, ...):
            // to the client this is still the race its commit lost.
            transaction = nil
            transactionFailed = false
            if let e = error as? EngineError, e.code == EngineError.serializationFailure { throw error }
            throw EngineError(EngineError.serializationFailure, "could not serialize access due to a concurrent update (\(error))")
        }
    }
}
