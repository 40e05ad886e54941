import StrataStore
import Synchronization

/// Marks a commit request that another process relayed here.
struct RelayTag: Sendable {
    var writer: String
    var number: UInt64
    /// The last log position it may be committed at.
    var deadline: UInt64
}

/// This process's side of the commit relay (see ``RelayListener``).
struct RelayState {
    var listener: RelayListener?
    /// The relay this process sends its transactions to, while it has one.
    var target: RelayClient?
    /// Writers found to have no usable relay (they ended, or never had one).
    var unusable: Set<String> = []
    /// When this process last served a relayed transaction: a process serving others
    /// keeps racing for the log itself.
    var servedAt: ContinuousClock.Instant?
    /// The log writer of the newest data entry another process wrote, seen while applying.
    var newestForeignWriter: String?
    /// This process's transactions sent to a relay and not yet answered or resolved.
    var inFlight: Set<UInt64> = []
    /// Where those of them that were committed landed, by number (from applied entries).
    var outcomes: [UInt64: UInt64] = [:]
    /// The bytes of the newest applied entries, sent with answers so that clients
    /// need not read them from the store.
    var entries: [UInt64: [UInt8]] = [:]
    var newestEntry: UInt64 = 0
    /// Entries a relay sent that this process has not applied yet, by sequence.
    var heldBack: [UInt64: [UInt8]] = [:]
    /// How many relayed transactions this process has committed.
    var served = 0
    /// For tests: lose the connection instead of answering, before or after committing.
    var loseAnswers: LoseAnswers = .never

    enum LoseAnswers { case never, beforeCommitting, afterCommitting }

    static let keptEntries: UInt64 = 128
    /// Larger transactions are committed by their own process: they gain little from
    /// sharing an entry, and the relay would hold them in memory.
    static let maxRelayedBytes = 4 << 20
    /// How many log positions after its known head a client lets the relay commit a
    /// transaction at; past that the relay declines it and the client commits it itself.
    static let window: UInt64 = 32

    mutating func remember(_ seq: UInt64, _ bytes: [UInt8]) {
        entries[seq] = bytes
        newestEntry = max(newestEntry, seq)
        if entries.count > Int(Self.keptEntries) * 2 {
            entries = entries.filter { $0.key + Self.keptEntries > newestEntry }
        }
    }
}

extension CommitRequest {
    /// A transaction of this process small enough to send to a relay.
    var isRelayable: Bool {
        guard relay == nil, !direct, case .data(let writes, _, let keys, let ranges, _) = payload else { return false }
        return writes.records.count + keys.count * 16 + ranges.count * 32 < RelayState.maxRelayedBytes
    }
}

/// A relay declined a transaction (it missed its deadline, or the relay now relays elsewhere).
struct RelayDeclined: Error {}

extension Engine {
    var relayEnabled: Bool { options.relayHost != nil }

    /// Starts listening for relayed commits and publishes where (`relay/WRITER`).
    func startRelay(host: String) async throws {
        let listener = try await RelayListener.start(host: host, engine: self)
        do {
            try await store.put(StoreLayout.relayKey(writerID), Array(listener.endpoint.text.utf8))
        } catch {
            await listener.close()
            throw error
        }
        relay.withLock { $0.listener = listener }
    }

    func stopRelay() async {
        let (listener, target) = relay.withLock { r in
            defer { r.listener = nil; r.target = nil }
            return (r.listener, r.target)
        }
        target?.close()
        if let listener {
            await listener.close()
            try? await store.delete(StoreLayout.relayKey(writerID))
        }
    }

    /// Notes an entry as it is applied (called by ``apply(_:bytes:_:)`` while it holds the
    /// state lock, so that the head never passes an entry whose relayed transactions are
    /// not yet recorded): its bytes for the answers of this process's relay, where this
    /// process's relayed transactions landed, and who else is writing.
    func noteApplied(_ entry: LogEntry, bytes: [UInt8]) {
        guard relayEnabled else { return }
        relay.withLock { r in
            r.remember(entry.seq, bytes)
            for c in entry.relayed where c.writer == writerID && r.inFlight.contains(c.number) { r.outcomes[c.number] = entry.seq }
            if entry.writer != writerID, !entry.isStructural { r.newestForeignWriter = entry.writer }
        }
    }

    /// The relay to send `request` to, if this process is relaying.
    func relayTarget(for request: CommitRequest) -> RelayClient? {
        guard relayEnabled, request.isRelayable else { return nil }
        return relayTarget()
    }

    /// The relay this process sends its transactions to, if it has one that is still connected.
    func relayTarget() -> RelayClient? {
        relay.withLock { r in
            if let t = r.target, t.isClosed {
                r.unusable.insert(t.writer)
                r.target = nil
            }
            return r.target
        }
    }

    /// After losing the race for a log position: if the winner has a relay and this
    /// process is not serving others, connect to it and send transactions there from now on.
    func considerRelaying() async -> RelayClient? {
        guard relayEnabled else { return nil }
        let candidate = relay.withLock { r -> String? in
            guard r.target == nil, let w = r.newestForeignWriter, !r.unusable.contains(w) else { return nil }
            if let served = r.servedAt, ContinuousClock.now - served < .seconds(1) { return nil }
            return w
        }
        guard let writer = candidate else { return nil }
        do {
            guard let bytes = try await store.getIfPresent(StoreLayout.relayKey(writer)), let endpoint = RelayEndpoint(bytes) else {
                relay.withLock { _ = $0.unusable.insert(writer) }
                return nil
            }
            let client = try await RelayClient.connect(to: endpoint, writer: writer, branch: branch, from: writerID) {
                [weak self] entries in self?.applyRelayedEntries(entries)
            }
            let kept = relay.withLock { r -> Bool in
                guard r.target == nil, r.listener != nil else { return false }
                r.target = client
                return true
            }
            if !kept { client.close() }
            return kept ? client : nil
        } catch {
            relay.withLock { _ = $0.unusable.insert(writer) }
            return nil
        }
    }

    private func dropTarget(_ client: RelayClient, unusable: Bool) {
        relay.withLock { r in
            if r.target === client { r.target = nil }
            if unusable { r.unusable.insert(client.writer) }
        }
    }

    /// Commits `request` through `client`, or in this process when the relay declines it.
    func commitRelayingOrLocally(_ request: CommitRequest, via client: RelayClient) async -> Result<UInt64, any Error> {
        if let result = await commitRelayed(request, via: client) { return result }
        do {
            return .success(try await submitLocally(request))
        } catch {
            return .failure(error)
        }
    }

    /// Sends `request` to the relay; nil when it was not committed and this process
    /// should commit it itself.
    private func commitRelayed(_ request: CommitRequest, via client: RelayClient) async -> Result<UInt64, any Error>? {
        let number = relayNumbers.add(1, ordering: .relaxed).newValue
        let known = head
        let deadline = known + RelayState.window
        let message = RelayMessage.commit(number: number, deadline: deadline, knownHead: known, priority: request.priority, payload: request.payload)
        relay.withLock { _ = $0.inFlight.insert(number) }
        defer {
            relay.withLock { r in
                r.inFlight.remove(number)
                r.outcomes[number] = nil
            }
        }
        let answer: RelayMessage
        do {
            answer = try await client.send(number, message, timeout: .seconds(30))
        } catch is RelayClient.NotSent {
            dropTarget(client, unusable: true)
            return nil
        } catch {
            dropTarget(client, unusable: true)
            client.close()
            return await resolveRelayed(number, deadline: deadline)
        }
        switch answer {
        case .committed(_, let seq, _):
            do {
                try await catchUpToRelayed(seq)
                return .success(seq)
            } catch {
                return .failure(error)
            }
        case .failed(_, let sqlState, let name, let text):
            return .failure(EngineError(EngineError.Code(sqlState: sqlState, name: name), text))
        default:
            dropTarget(client, unusable: false)
            return nil
        }
    }

    /// Waits until this process has applied commit `seq`, which a relay reported: usually
    /// already done from the entries sent with the answers; else the entries held back
    /// (after a flush entry, which needs its segments opened) are applied, and only then
    /// is the store read. One task at a time does this; the others usually find it done.
    private func catchUpToRelayed(_ seq: UInt64) async throws {
        var attempts = 0
        while head < seq {
            try await relayCatchUp.withLock {
                if head >= seq { return }
                try await applyHeldBackEntries()
                if head >= seq { return }
                try await storageErrors { try await catchUp(readingAhead: true) }
                attempts += 1
            }
            if head < seq {
                if attempts >= 10 { throw corrupt("the relay reported commit \(seq), which is not in the log") }
                try? await Task.sleep(for: .milliseconds(10 * attempts))
            }
        }
    }

    /// Applies, in order, the entries a relay sent that could not be applied on arrival.
    private func applyHeldBackEntries() async throws {
        while true {
            let next = head + 1
            guard let bytes = relay.withLock({ r -> [UInt8]? in
                r.heldBack = r.heldBack.filter { $0.key >= next }
                return r.heldBack[next]
            }) else { return }
            let entry = try decodeEntry(bytes, seq: next)
            try apply(entry, bytes: bytes, try await storageErrors { try await prepare(entry, reference: version) })
            applyRelayedEntries([])
        }
    }

    /// Learns whether a relayed transaction whose answer was lost committed: the relay may
    /// commit it at no position past `deadline`, so once the log reaches the deadline the
    /// entries say. Positions nobody else fills are filled with empty commits.
    private func resolveRelayed(_ number: UInt64, deadline: UInt64) async -> Result<UInt64, any Error>? {
        // When a relay goes away every transaction it held is resolved at once: one task
        // at a time reads the store (and fills positions), the others find the answer in
        // what it read instead of all polling the store together.
        var idle = 0
        while true {
            // The head first: an entry is recorded before the head passes it.
            let seen = head
            if let seq = relay.withLock({ $0.outcomes[number] }) { return .success(seq) }
            if seen >= deadline { return nil }
            do {
                try await relayCatchUp.withLock {
                    if head >= deadline || relay.withLock({ $0.outcomes[number] }) != nil { return }
                    let before = head
                    try await storageErrors { try await catchUp(readingAhead: true) }
                    if head > before || head >= deadline {
                        idle = 0
                    } else if idle < 3 {
                        // The relay may still be committing: give it a moment.
                        idle += 1
                        try? await Task.sleep(for: .milliseconds(20))
                    } else {
                        let filler = CommitRequest(
                            .data(writes: MutationBatch(), snapshot: head, readKeys: [], readRanges: [], lockedReads: []), direct: true)
                        _ = try await submitLocally(filler)
                    }
                }
            } catch {
                return .failure(error)
            }
        }
    }

    /// What became of a relayed transaction.
    enum Served {
        case committed(UInt64)
        case answer(RelayMessage)
        /// Close the connection without an answer (only tests ask for it).
        case dropConnection
    }

    /// Queues a transaction another process relayed here and calls `answer` once with
    /// what to tell the sender. Called on the connection's event loop, so it never waits:
    /// the request joins the queue at once, and a leader task starts only if none runs.
    func serveRelayed(_ request: CommitRequest, answer: @escaping @Sendable (Served) -> Void) {
        let number = request.relay!.number
        let (serving, lose) = relay.withLock { r -> (Bool, RelayState.LoseAnswers) in
            guard r.target == nil else { return (false, r.loseAnswers) }
            r.servedAt = ContinuousClock.now
            return (true, r.loseAnswers)
        }
        guard serving, !isClosed.load(ordering: .relaxed) else { return answer(.answer(.declined(number: number))) }
        if lose == .beforeCommitting { return answer(.dropConnection) }
        request.onCompletion { [self] result in
            switch result {
            case .success(let seq):
                relay.withLock { $0.served += 1 }
                answer(lose == .afterCommitting ? .dropConnection : .committed(seq))
            case .failure(is RelayDeclined):
                answer(.answer(.declined(number: number)))
            case .failure(let e as any CodedError):
                answer(.answer(.failed(number: number, sqlState: e.code.sqlState, name: e.code.name, message: (e as? EngineError)?.message ?? "\(e)")))
            case .failure(let error):
                answer(.answer(.failed(number: number, sqlState: EngineError.storage.sqlState, name: EngineError.storage.name, message: "\(error)")))
            }
        }
        if enqueue(request) { Task { await leadCommits() } }
    }

    /// The stored bytes of the entries after `after` through `seq` that this process still
    /// holds (at most 64 and 8 MiB, ending at `seq`); the client reads any others itself.
    func relayEntries(after: UInt64, through seq: UInt64) -> [[UInt8]] {
        relay.withLock { r in
            var out: [[UInt8]] = []
            var bytes = 0
            var s = seq
            while s > after, seq - s < 64, let e = r.entries[s], bytes + e.count <= 8 << 20 {
                out.append(e)
                bytes += e.count
                s -= 1
            }
            return out.reversed()
        }
    }

    /// Applies entries a relay sent that follow this process's head and carry their
    /// writes inline; the rest (and those after them) are held back for
    /// ``catchUpToRelayed(_:)``, which can fetch what they need.
    func applyRelayedEntries(_ entries: [[UInt8]]) {
        var queue = relay.withLock { r -> [UInt64: [UInt8]] in
            for bytes in entries {
                if let seq = LogEntry.seq(ofEncoded: bytes) { r.heldBack[seq] = bytes }
            }
            return r.heldBack
        }
        while let bytes = queue[head + 1] {
            let seq = head + 1
            queue[seq] = nil
            guard let entry = try? LogEntry.decode(bytes), entry.seq == seq, case .inline(let m) = entry.body,
                (try? apply(entry, bytes: bytes, .data(m))) != nil
            else { break }
        }
        let applied = head
        relay.withLock { r in
            r.heldBack = r.heldBack.filter { $0.key > applied }
            if r.heldBack.count > 4096 { r.heldBack.removeAll() }
        }
    }
}
