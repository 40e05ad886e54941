/// The parts of a ListObjectsV2 reply Strata uses, read with a small scanner over
/// the flat XML S3 sends (no DTDs, no nesting beyond `<Contents>`).
struct ListObjectsResult {
    var objects: [(key: String, size: Int)] = []
    var isTruncated = false
    var continuationToken: String?

    /// Parses the reply to a request made with `encoding-type=url` (keys arrive percent-encoded).
    init(_ body: [UInt8]) throws {
        let text = String(decoding: body, as: UTF8.self)
        guard text.contains("<ListBucketResult") else {
            throw StoreError.permanent("malformed ListObjectsV2 reply: \(text.prefix(200))")
        }
        let urlEncoded = XMLScan.element("EncodingType", in: text[...]) == "url"
        var rest = text[...]
        while let contents = XMLScan.nextElement("Contents", in: &rest) {
            guard let rawKey = XMLScan.element("Key", in: contents), let sizeText = XMLScan.element("Size", in: contents),
                let size = Int(sizeText)
            else { throw StoreError.permanent("malformed <Contents> in ListObjectsV2 reply") }
            let key = urlEncoded ? S3URI.decode(rawKey[...], plusIsSpace: true) : rawKey
            guard let key else { throw StoreError.permanent("malformed key '\(rawKey)' in ListObjectsV2 reply") }
            objects.append((key, size))
        }
        isTruncated = XMLScan.element("IsTruncated", in: text[...]) == "true"
        continuationToken = XMLScan.element("NextContinuationToken", in: text[...])
    }
}

/// The `<Error>` document S3 sends with a failure status.
enum S3ErrorDocument {
    static func code(in body: [UInt8]) -> String? {
        XMLScan.element("Code", in: String(decoding: body.prefix(4096), as: UTF8.self)[...])
    }

    static func message(in body: [UInt8]) -> String? {
        XMLScan.element("Message", in: String(decoding: body.prefix(4096), as: UTF8.self)[...])
    }
}

enum XMLScan {
    /// The unescaped text of the first `<name>...</name>` in `text`.
    static func element(_ name: String, in text: Substring) -> String? {
        var rest = text
        return nextElement(name, in: &rest).map(unescape)
    }

    /// The raw content of the next `<name>...</name>`, advancing `text` past it.
    static func nextElement(_ name: String, in text: inout Substring) -> Substring? {
        guard let open = text.firstRange(of: "<\(name)>"), let close = text[open.upperBound...].firstRange(of: "</\(name)>") else {
            return nil
        }
        let content = text[open.upperBound..<close.lowerBound]
        text = text[close.upperBound...]
        return content
    }

    /// `s` with the characters XML text cannot hold as entities.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(c)
            }
        }
        return out
    }

    static func unescape(_ s: Substring) -> String {
        guard s.contains("&") else { return String(s) }
        var out = ""
        var rest = s
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                if entity.hasPrefix("#x"), let v = UInt32(entity.dropFirst(2), radix: 16), let u = Unicode.Scalar(v) {
                    out.unicodeScalars.append(u)
                } else if entity.hasPrefix("#"), let v = UInt32(entity.dropFirst()), let u = Unicode.Scalar(v) {
                    out.unicodeScalars.append(u)
                } else {
                    out += rest[amp...semi]
                }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }
}
