//! A small reader of the HTML our renderers emit, for checking what came out: every `<` must
//! open or close a whole tag (text is escaped, so a raw `<` from the input would show up as a
//! tag the renderer never writes), and each tag's attributes are read with their values.

/// One tag: its name (lowercase), whether it closes, and its attributes.
pub struct Tag {
    pub name: String,
    pub attributes: Vec<(String, String)>,
}

/// Every tag of `html`, or a description of where it is not well-formed.
pub fn tags(html: &str) -> Result<Vec<Tag>, String> {
    let bytes = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(open) = html[i..].find('<').map(|o| o + i) {
        let mut j = open + 1;
        if bytes.get(j) == Some(&b'/') {
            j += 1;
        }
        let name_start = j;
        while j < bytes.len() && bytes[j].is_ascii_alphanumeric() {
            j += 1;
        }
        if j == name_start {
            return Err(format!("a '<' that opens no tag at byte {open}"));
        }
        let name = html[name_start..j].to_ascii_lowercase();
        let mut attributes = Vec::new();
        loop {
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            match bytes.get(j) {
                None => return Err(format!("tag <{name}> at byte {open} never ends")),
                Some(b'>') => {
                    j += 1;
                    break;
                }
                Some(b'/') if bytes.get(j + 1) == Some(&b'>') => {
                    j += 2;
                    break;
                }
                Some(_) => {}
            }
            let key_start = j;
            while j < bytes.len()
                && !matches!(bytes[j], b'=' | b'>' | b'/')
                && !bytes[j].is_ascii_whitespace()
            {
                j += 1;
            }
            let key = html[key_start..j].to_ascii_lowercase();
            if key.is_empty() {
                return Err(format!("a stray character in <{name}> at byte {j}"));
            }
            let mut value = String::new();
            if bytes.get(j) == Some(&b'=') {
                j += 1;
                if bytes.get(j) == Some(&b'"') {
                    let end = html[j + 1..]
                        .find('"')
                        .ok_or_else(|| format!("an unclosed attribute value in <{name}>"))?;
                    value = html[j + 1..j + 1 + end].to_owned();
                    j += end + 2;
                } else {
                    let start = j;
                    while j < bytes.len() && bytes[j] != b'>' && !bytes[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    value = html[start..j].to_owned();
                }
            }
            if value.contains('<') {
                return Err(format!("a '<' inside attribute {key} of <{name}>"));
            }
            attributes.push((key, value));
        }
        out.push(Tag { name, attributes });
        i = j;
    }
    Ok(out)
}
