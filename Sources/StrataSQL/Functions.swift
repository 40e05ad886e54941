import FoundationEssentials
import Crypto
#if canImport(Glibc)
import Glibc
#endif

/// The built-in scalar functions.
enum Functions {
    static func call(_ f: Function, _ args: [BExpr], _ row: [SQLValue], _ ctx: EvalContext) throws -> SQLValue {
        // Functions that do not simply propagate NULL.
        switch f {
        case .coalesce:
            for a in args {
                let v = try Evaluator.eval(a, row, ctx)
                if !v.isNull { return v }
            }
            return .null
        case .greatest, .least:
            var best: SQLValue = .null
            for a in args {
                let v = try Evaluator.eval(a, row, ctx)
                if v.isNull { continue }
                if best.isNull { best = v; continue }
                let c = try Evaluator.compare(v, best)
                if (f == .greatest && c > 0) || (f == .least && c < 0) { best = v }
            }
            return best
        case .concat, .concat_ws:
            var parts: [String] = []
            for a in args { if let t = try Evaluator.eval(a, row, ctx).text { parts.append(t) } else if f == .concat_ws && parts.isEmpty { return .null } }
            if f == .concat { return .text(parts.joined()) }
            return .text(parts.dropFirst().joined(separator: parts.first ?? ""))
        case .nullif:
            let a = try Evaluator.eval(args[0], row, ctx)
            let b = try Evaluator.eval(args[1], row, ctx)
            if !a.isNull, !b.isNull, try Evaluator.compare(a, b) == 0 { return .null }
            return a
        case .now: return .timestamptz(ctx.statementTime)
        case .current_date: return .date(Int32(ctx.statementTime / DateTime.microsPerDay))
        case .random: return .double(Double.random(in: 0..<1))
        case .pi: return .double(.pi)
        case .version: return .text("PostgreSQL 15.0 (Strata)")
        case .current_schema: return .text("public")
        case .current_database: return .text(ctx.database)
        case .current_user: return .text(ctx.user)
        case .current_setting:
            // current_setting(name [, missing_ok]): SET's value in this session, else the default.
            guard let name = try Evaluator.eval(args[0], row, ctx).text?.lowercased() else { return .null }
            if let value = ctx.settings[name] ?? Session.defaults[name] { return .text(value) }
            if args.count == 2, case .bool(true) = try Evaluator.eval(args[1], row, ctx) { return .null }
            throw SQLError(SQLError.undefinedObject, "unrecognized configuration parameter \"\(name)\"")
        case .gen_random_uuid:
            var u = (0..<16).map { _ in UInt8.random(in: 0...255) }
            u[6] = u[6] & 0x0F | 0x40
            u[8] = u[8] & 0x3F | 0x80
            return .uuid(u)
        case .set_config:
            guard let name = try Evaluator.eval(args[0], row, ctx).text?.lowercased() else {
                throw SQLError(SQLError.notNullViolation, "SET requires parameter name")
            }
            guard let value = try Evaluator.eval(args[1], row, ctx).text else { return .null }
            ctx.settings[name] = value
            ctx.settingChanges?.values[name] = value
            return .text(value)
        case .arrayConstructor:
            return .text(ArrayText.format(try args.map { try Evaluator.eval($0, row, ctx).text }))
        case .array_to_string:
            let a = try Evaluator.eval(args[0], row, ctx)
            guard let text = a.text, let sep = try Evaluator.eval(args[1], row, ctx).text else { return .null }
            let nullText = args.count > 2 ? try Evaluator.eval(args[2], row, ctx).text : nil
            return .text(try ArrayText.parse(text).compactMap { $0 ?? nullText }.joined(separator: sep))
        case .arrayConcat:
            let a = try Evaluator.eval(args[0], row, ctx).text
            let b = try Evaluator.eval(args[1], row, ctx).text
            guard a != nil || b != nil else { return .null }
            return .text(ArrayText.format(try (a.map(ArrayText.parse) ?? []) + (b.map(ArrayText.parse) ?? [])))
        case .arrayContains:
            // x = ANY(a): true if an element equals x, else NULL if x or an element is NULL, else false.
            guard let x = try Evaluator.eval(args[0], row, ctx).text, let a = try Evaluator.eval(args[1], row, ctx).text else { return .null }
            let elements = try ArrayText.parse(a)
            if elements.contains(x) { return .bool(true) }
            return elements.contains(nil) ? .null : .bool(false)
        case .format_type:
            guard case .int(let oid) = try Evaluator.eval(args[0], row, ctx) else { return .null }
            var typmod: Int64? = nil
            if case .int(let m) = try Evaluator.eval(args[1], row, ctx) { typmod = m }
            return .text(SystemCatalog.formatType(oid, typmod) ?? "???")
        default: break
        }
        var v: [SQLValue] = []
        v.reserveCapacity(args.count)
        for a in args {
            let x = try Evaluator.eval(a, row, ctx)
            if x.isNull { return .null }
            v.append(x)
        }
        func text(_ i: Int) -> String { v[i].text ?? "" }
        func int(_ i: Int) throws -> Int64 {
            if case .int(let x) = v[i] { return x }
            if case .int(let x) = try Cast.cast(v[i], to: .bigint, length: nil, explicit: true) { return x }
            return 0
        }
        func double(_ i: Int) throws -> Double { try Cast.toDouble(v[i]) }
        switch f {
        case .abs:
            switch v[0] {
            case .int(let i):
                guard i != .min else { throw Evaluator.outOfRange(.bigint) }
                return .int(Swift.abs(i))
            case .numeric(let d): return .numeric(d < 0 ? -d : d)
            default: return .double(Swift.abs(try double(0)))
            }
        case .lower: return .text(text(0).lowercased())
        case .upper: return .text(text(0).uppercased())
        case .length:
            if case .bytes(let b) = v[0] { return .int(Int64(b.count)) }
            return .int(Int64(text(0).count))
        case .substr:
            let chars = Array(text(0))
            let start = try int(1)
            var end = Int64.max
            if v.count > 2 {
                let n = try int(2)
                if n < 0 { throw SQLError(SQLError.invalidParameterValue, "negative substring length not allowed") }
                end = start.addingReportingOverflow(n).overflow ? .max : start + n
            }
            let lo = max(1, start)
            let hi = min(Int64(chars.count) + 1, end)
            if lo >= hi { return .text("") }
            return .text(String(chars[Int(lo - 1)..<Int(hi - 1)]))
        case .strpos:
            let hay = Array(text(0))
            let needle = Array(text(1))
            if needle.isEmpty { return .int(1) }
            if needle.count <= hay.count {
                for i in 0...(hay.count - needle.count) where Array(hay[i..<i + needle.count]) == needle { return .int(Int64(i + 1)) }
            }
            return .int(0)
        case .replace:
            let from = text(1)
            if from.isEmpty { return v[0] }
            return .text(text(0).replacing(from, with: text(2)))
        case .btrim, .ltrim, .rtrim:
            let set = Set(v.count > 1 ? text(1) : " ")
            var s = Substring(text(0))
            if f != .rtrim { while let c = s.first, set.contains(c) { s = s.dropFirst() } }
            if f != .ltrim { while let c = s.last, set.contains(c) { s = s.dropLast() } }
            return .text(String(s))
        case .left, .right:
            let chars = Array(text(0))
            let n = Int(try int(1))
            let k = n >= 0 ? min(n, chars.count) : max(0, chars.count + n)
            return .text(String(f == .left ? chars.prefix(k) : chars.suffix(k)))
        case .lpad, .rpad:
            let chars = Array(text(0))
            let n = max(0, Int(try int(1)))
            let fill = Array(v.count > 2 ? text(2) : " ")
            if chars.count >= n { return .text(String(chars.prefix(n))) }
            if fill.isEmpty { return .text(String(chars)) }
            var pad: [Character] = []
            while pad.count < n - chars.count { pad.append(fill[pad.count % fill.count]) }
            return .text(f == .lpad ? String(pad + chars) : String(chars + pad))
        case .repeat:
            let n = try int(1)
            guard n <= 10_000_000 / Int64(max(1, text(0).utf8.count)) else { throw SQLError(SQLError.programLimitExceeded, "requested length too large") }
            return .text(String(repeating: text(0), count: Int(max(0, n))))
        case .reverse: return .text(String(text(0).reversed()))
        case .initcap:
            var out = ""
            var startWord = true
            for c in text(0) {
                out += startWord ? c.uppercased() : c.lowercased()
                startWord = !(c.isLetter || c.isNumber)
            }
            return .text(out)
        case .md5:
            let digest = Insecure.MD5.hash(data: Array(text(0).utf8))
            return .text(digest.map { SQLValue.hex($0) }.joined())
        case .split_part:
            let parts = text(0).components(separatedBy: text(1))
            let n = Int(try int(2))
            if n == 0 { throw SQLError(SQLError.invalidParameterValue, "field position must not be zero") }
            let i = n > 0 ? n - 1 : parts.count + n
            return .text(i >= 0 && i < parts.count ? parts[i] : "")
        case .starts_with: return .bool(text(0).hasPrefix(text(1)))
        case .chr:
            guard let s = Unicode.Scalar(UInt32(clamping: try int(0))), try int(0) > 0 else {
                throw SQLError(SQLError.invalidParameterValue, "requested character not valid")
            }
            return .text(String(Character(s)))
        case .ascii: return .int(Int64(text(0).unicodeScalars.first?.value ?? 0))
        case .round, .trunc:
            let scale = v.count > 1 ? Int(try int(1)) : 0
            switch v[0] {
            case .int: return scale >= 0 ? v[0] : .numeric(Cast.round(try Cast.toDecimal(v[0]), scale: scale))
            case .numeric(let d): return .numeric(f == .round ? Cast.round(d, scale: scale) : truncate(d, scale))
            default:
                let d = try double(0)
                if v.count > 1 { return .numeric(f == .round ? Cast.round(try Cast.toDecimal(v[0]), scale: scale) : truncate(try Cast.toDecimal(v[0]), scale)) }
                return .double(f == .round ? d.rounded(.toNearestOrAwayFromZero) : d.rounded(.towardZero))
            }
        case .ceil, .floor:
            switch v[0] {
            case .int: return v[0]
            case .numeric(let d):
                let t = Cast.truncate(d)
                if t == d { return .numeric(t) }
                return .numeric(f == .ceil ? (d > 0 ? t + 1 : t) : (d < 0 ? t - 1 : t))
            default:
                let d = try double(0)
                return .double(f == .ceil ? d.rounded(.up) : d.rounded(.down))
            }
        case .sign:
            switch v[0] {
            case .int(let i): return .int(i.signum())
            case .numeric(let d): return .numeric(d > 0 ? 1 : (d < 0 ? -1 : 0))
            default: let d = try double(0); return .double(d > 0 ? 1 : (d < 0 ? -1 : 0))
            }
        case .sqrt:
            let d = try double(0)
            if d < 0 { throw SQLError(SQLError.invalidArgumentForPower, "cannot take square root of a negative number") }
            return .double(d.squareRoot())
        case .cbrt: return .double(Glibc.cbrt(try double(0)))
        case .power: return .double(pow(try double(0), try double(1)))
        case .exp: return .double(Glibc.exp(try double(0)))
        case .ln, .log, .log10:
            let d = try double(v.count > 1 ? 1 : 0)
            if d == 0 { throw SQLError(SQLError.invalidArgumentForLog, "cannot take logarithm of zero") }
            if d < 0 { throw SQLError(SQLError.invalidArgumentForLog, "cannot take logarithm of a negative number") }
            if v.count > 1 { return .double(Glibc.log(d) / Glibc.log(try double(0))) }
            return .double(f == .ln ? Glibc.log(d) : Glibc.log10(d))
        case .mod:
            return try Evaluator.arithmetic(.mod, v[0], v[1], Cast.typeOf(v[0]).isInteger && Cast.typeOf(v[1]).isInteger ? .bigint : .numeric)
        case .div:
            let q = try Evaluator.arithmetic(.div, .numeric(try Cast.toDecimal(v[0])), .numeric(try Cast.toDecimal(v[1])), .numeric)
            if case .numeric(let d) = q { return .numeric(Cast.truncate(d)) }
            return q
        case .date_part:
            return try datePart(text(0).lowercased(), v[1])
        case .date_trunc:
            let field = text(0).lowercased()
            guard case .timestamp(let t) = try Cast.cast(v[1], to: .timestamp, length: nil, explicit: true) else { return .null }
            let unit: Int64
            switch field {
            case "microseconds": unit = 1
            case "milliseconds": unit = 1000
            case "second": unit = 1_000_000
            case "minute": unit = 60_000_000
            case "hour": unit = 3_600_000_000
            case "day": unit = DateTime.microsPerDay
            default: throw SQLError(SQLError.featureNotSupported, "date_trunc unit \"\(field)\" is not supported")
            }
            let r = t >= 0 ? t / unit * unit : (t - unit + 1) / unit * unit
            if case .timestamptz = v[1] { return .timestamptz(r) }
            return .timestamp(r)
        case .to_timestamp:
            let secs = try double(0)
            return .timestamptz(Int64(secs * 1_000_000) - DateTime.epochShift * DateTime.microsPerDay)
        case .typeof: return .text(Cast.typeOf(v[0]).description)
        case .arrayElement:
            let elements = try ArrayText.parse(text(0))
            let i = try int(1)
            return i >= 1 && i <= elements.count ? elements[Int(i) - 1].map(SQLValue.text) ?? .null : .null
        case .array_upper, .array_length, .array_lower:
            let count = try ArrayText.parse(text(0)).count
            guard try int(1) == 1, count > 0 else { return .null }
            return .int(f == .array_lower ? 1 : Int64(count))
        case .cardinality: return .int(Int64(try ArrayText.parse(text(0)).count))
        case .regexMatch:
            let pattern = text(1)
            let insensitive = v.count > 2 && v[2] == .bool(true)
            let key = (insensitive ? "i:" : "c:") + pattern
            let regex: Regex<AnyRegexOutput>
            if let cached = ctx.regexes[key] {
                regex = cached
            } else {
                do {
                    regex = insensitive ? try Regex(pattern).ignoresCase() : try Regex(pattern)
                } catch {
                    throw SQLError(SQLError.invalidRegularExpression, "invalid regular expression: \(pattern)")
                }
                ctx.regexes[key] = regex
            }
            return .bool(text(0).contains(regex))
        case .pg_encoding_to_char: return .text(try int(0) == 6 ? "UTF8" : "")
        case .nextval:
            guard let value = ctx.sequences?.take(text(0)) else {
                throw SQLError(SQLError.featureNotSupported, "nextval(\(text(0))) is supported only in column defaults")
            }
            return .int(value)
        case .quote_ident: return .text(SystemCatalog.quoteIdentifier(text(0)))
        default:
            throw SQLError(SQLError.internalError, "function \(f) has no implementation")
        }
    }

    static func truncate(_ d: Decimal, _ scale: Int) -> Decimal {
        var factor = Decimal(1)
        for _ in 0..<max(0, scale) { factor *= 10 }
        return Cast.truncate(d * factor) / factor
    }

    static func datePart(_ field: String, _ v: SQLValue) throws -> SQLValue {
        let micros: Int64
        switch v {
        case .date(let d): micros = Int64(d) * DateTime.microsPerDay
        case .timestamp(let t), .timestamptz(let t): micros = t
        default: throw SQLError(SQLError.undefinedFunction, "function date_part(text, \(Cast.typeOf(v))) does not exist")
        }
        var days = micros / DateTime.microsPerDay
        var rem = micros % DateTime.microsPerDay
        if rem < 0 {
            rem += DateTime.microsPerDay
            days -= 1
        }
        let (y, m, d) = DateTime.civilFromDays(days + DateTime.epochShift)
        switch field {
        case "year": return .numeric(Decimal(y))
        case "month": return .numeric(Decimal(m))
        case "day": return .numeric(Decimal(d))
        case "hour": return .numeric(Decimal(rem / 3_600_000_000))
        case "minute": return .numeric(Decimal(rem / 60_000_000 % 60))
        case "second": return .numeric(Decimal(rem % 60_000_000) / 1_000_000)
        case "dow": return .numeric(Decimal(((days + DateTime.epochShift) % 7 + 11) % 7))
        case "doy": return .numeric(Decimal(days + DateTime.epochShift - DateTime.daysFromCivil(y, 1, 1) + 1))
        case "epoch": return .numeric(Decimal(micros + DateTime.epochShift * DateTime.microsPerDay) / 1_000_000)
        case "quarter": return .numeric(Decimal((m - 1) / 3 + 1))
        default: throw SQLError(SQLError.featureNotSupported, "unit \"\(field)\" not recognized")
        }
    }
}
