//! A small builder over the ONNX protobuf types: just enough to write the two
//! streaming graphs readably.

use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto, AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

/// A dimension of a graph input or output.
#[derive(Clone, Debug)]
pub enum Dim {
    Fixed(i64),
    Named(&'static str),
}

pub struct GraphBuilder {
    graph: GraphProto,
    counter: usize,
}

pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
}

fn value_info(name: &str, dims: &[Dim]) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    for d in dims {
        let mut dim = tensor_shape_proto::Dimension::new();
        dim.value = Some(match d {
            Dim::Fixed(v) => tensor_shape_proto::dimension::Value::DimValue(*v),
            Dim::Named(s) => tensor_shape_proto::dimension::Value::DimParam(s.to_string()),
        });
        shape.dim.push(dim);
    }
    let mut tensor = type_proto::Tensor::new();
    tensor.elem_type = DataType::FLOAT as i32;
    tensor.shape = Some(shape).into();
    let mut ty = TypeProto::new();
    ty.value = Some(type_proto::Value::TensorType(tensor));
    let mut vi = ValueInfoProto::new();
    vi.name = name.to_string();
    vi.type_ = Some(ty).into();
    vi
}

impl GraphBuilder {
    pub fn new(name: &str) -> Self {
        let mut graph = GraphProto::new();
        graph.name = name.to_string();
        Self { graph, counter: 0 }
    }

    pub fn input(&mut self, name: &str, dims: &[Dim]) -> String {
        self.graph.input.push(value_info(name, dims));
        name.to_string()
    }

    pub fn output(&mut self, name: &str, dims: &[Dim]) {
        self.graph.output.push(value_info(name, dims));
    }

    /// A float initializer.
    pub fn constant(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        assert_eq!(dims.iter().product::<usize>(), data.len(), "initializer {name}: shape and data disagree");
        let mut t = TensorProto::new();
        t.name = name.to_string();
        t.data_type = DataType::FLOAT as i32;
        t.dims = dims.iter().map(|&d| d as i64).collect();
        t.raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.graph.initializer.push(t);
        name.to_string()
    }

    /// An int64 initializer (shapes, axes, slice bounds).
    pub fn ints(&mut self, name: &str, data: &[i64]) -> String {
        let mut t = TensorProto::new();
        t.name = name.to_string();
        t.data_type = DataType::INT64 as i32;
        t.dims = vec![data.len() as i64];
        t.raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.graph.initializer.push(t);
        name.to_string()
    }

    /// Adds a node; returns the names of its outputs. An output name given in `outs`
    /// is used as is (for graph outputs); `None` gets a fresh internal name.
    pub fn node(&mut self, op: &str, inputs: &[&str], outs: &[Option<&str>], attrs: &[(&str, Attr)]) -> Vec<String> {
        self.counter += 1;
        let mut n = NodeProto::new();
        n.op_type = op.to_string();
        n.name = format!("{op}_{}", self.counter);
        n.input = inputs.iter().map(|s| s.to_string()).collect();
        n.output = outs.iter().enumerate().map(|(i, o)| o.map(str::to_string).unwrap_or_else(|| format!("{op}_{}_{i}", self.counter))).collect();
        for (name, value) in attrs {
            let mut a = AttributeProto::new();
            a.name = name.to_string();
            match value {
                Attr::Int(v) => {
                    a.type_ = AttributeType::INT.into();
                    a.i = *v;
                }
                Attr::Ints(v) => {
                    a.type_ = AttributeType::INTS.into();
                    a.ints = v.clone();
                }
                Attr::Float(v) => {
                    a.type_ = AttributeType::FLOAT.into();
                    a.f = *v;
                }
            }
            n.attribute.push(a);
        }
        let outs = n.output.clone();
        self.graph.node.push(n);
        outs
    }

    /// Single-output node with a fresh name.
    pub fn op(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        self.node(op, inputs, &[None], attrs).remove(0)
    }

    /// Serialises the graph as an ONNX model.
    pub fn finish(self, doc: &str) -> Vec<u8> {
        let mut model = ModelProto::new();
        model.ir_version = 8;
        model.producer_name = "melwave".into();
        model.producer_version = env!("CARGO_PKG_VERSION").into();
        model.doc_string = doc.into();
        let mut opset = OperatorSetIdProto::new();
        opset.domain = String::new();
        opset.version = super::OPSET;
        model.opset_import.push(opset);
        model.graph = Some(self.graph).into();
        model.write_to_bytes().expect("an in-memory ONNX model always serialises")
    }
}

/// The float initializers of an ONNX model, by name: the weights a graph was built
/// from, in the layout it holds them. Integer initializers (shapes, axes) are skipped.
pub fn float_initializers(bytes: &[u8]) -> Result<std::collections::BTreeMap<String, super::weights::Tensor>, String> {
    let model = ModelProto::parse_from_bytes(bytes).map_err(|e| format!("not an ONNX model: {e}"))?;
    let graph = model.graph.as_ref().ok_or("the ONNX model has no graph")?;
    let mut out = std::collections::BTreeMap::new();
    for t in &graph.initializer {
        if t.data_type != DataType::FLOAT as i32 {
            continue;
        }
        let dims: Vec<usize> = t.dims.iter().map(|&d| usize::try_from(d).map_err(|_| format!("initializer {} has a negative dimension", t.name))).collect::<Result<_, _>>()?;
        let data: Vec<f32> = if t.raw_data.is_empty() { t.float_data.clone() } else { t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect() };
        if data.len() != dims.iter().product::<usize>() {
            return Err(format!("initializer {} holds {} values for shape {dims:?}", t.name, data.len()));
        }
        out.insert(t.name.clone(), super::weights::Tensor { dims, data });
    }
    Ok(out)
}
