import StrataStore

/// Calendar arithmetic for DATE and TIMESTAMP values, counted from 2000-01-01 as in PostgreSQL.
enum DateTime {
    static let microsPerDay: Int64 = 86_400_000_000
    /// Days from 1970-01-01 to 2000-01-01.
    static let epochShift: Int64 = 10_957

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    static func daysFromCivil(_ y: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y - 1 : y
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date of a day count since 1970-01-01.
    static func civilFromDays(_ z: Int64) -> (year: Int64, month: Int64, day: Int64) {
        CivilDate.fromDays(z)
    }

    static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    static func formatDate(_ days: Int32) -> String {
        let (y, m, d) = civilFromDays(Int64(days) + epochShift)
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    static func formatTimestamp(_ micros: Int64) -> String {
        var days = micros / microsPerDay
        var rem = micros % microsPerDay
        if rem < 0 {
            rem += microsPerDay
            days -= 1
        }
        let secs = rem / 1_000_000
        let frac = rem % 1_000_000
        var s = formatDate(Int32(days)) + " \(pad(secs / 3600, 2)):\(pad(secs / 60 % 60, 2)):\(pad(secs % 60, 2))"
        if frac != 0 {
            var f = pad(frac, 6)
            while f.hasSuffix("0") { f.removeLast() }
            s += "." + f
        }
        return s
    }

    /// Parses `YYYY-MM-DD`; nil when malformed or not a real date.
    static func parseDate(_ text: Substring) -> Int32? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]),
            (1...12).contains(m), d >= 1, d <= daysIn(month: m, year: y)
        else { return nil }
        return Int32(daysFromCivil(y, m, d) - epochShift)
    }

    static func daysIn(month m: Int64, year y: Int64) -> Int64 {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Parses `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][Z|±HH[:MM]]` into microseconds since 2000
    /// (UTC when an offset is given); nil when malformed.
    static func parseTimestamp(_ text: String) -> Int64? {
        let t = text.trimmingSpaces()
        guard t.count >= 10, let days = parseDate(t.prefix(10)) else { return nil }
        var micros = Int64(days) * microsPerDay
        var rest = t.dropFirst(10)
        if rest.isEmpty { return micros }
        guard rest.first == " " || rest.first == "T" else { return nil }
        rest = rest.dropFirst()
        var offset: Int64 = 0
        if let z = rest.firstIndex(where: { $0 == "+" || $0 == "-" || $0 == "Z" }) {
            let zone = rest[z...]
            rest = rest[..<z]
            if zone != "Z" {
                let sign: Int64 = zone.first == "-" ? -1 : 1
                let parts = zone.dropFirst().split(separator: ":")
                guard let h = parts.first.flatMap({ Int64($0) }) else { return nil }
                let mm = parts.count > 1 ? Int64(parts[1]) ?? 0 : 0
                offset = sign * (h * 3600 + mm * 60) * 1_000_000
            }
        }
        let hms = rest.split(separator: ":")
        guard hms.count >= 2, let h = Int64(hms[0]), let mi = Int64(hms[1]), (0...24).contains(h), (0...59).contains(mi)
        else { return nil }
        var secMicros: Int64 = 0
        if hms.count == 3 {
            let sp = hms[2].split(separator: ".", omittingEmptySubsequences: false)
            guard let s = Int64(sp[0]), (0...60).contains(s) else { return nil }
            secMicros = s * 1_000_000
            if sp.count == 2 {
                var frac = String(sp[1].prefix(6))
                while frac.count < 6 { frac += "0" }
                guard let f = Int64(frac) else { return nil }
                secMicros += f
            }
        }
        micros += (h * 3600 + mi * 60) * 1_000_000 + secMicros - offset
        return micros
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return String(self[start...end])
    }
}
