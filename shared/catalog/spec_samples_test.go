package catalog

// Samples copied verbatim from the spec (003_0d230a468edd6fce.txt), the
// yardstick for what the catalog must render.

const specMarble = `
{
"hasSsd":true,
"code":"standard-plus",
"compute":"3.00",
"name":"Marble",
"isDeprecated":false,
"price":0.1,
"remoteVizAllowed":true,
"storage":40,
"lowPriorityPrice":"0.050",
"walltimeRequired":false,
"displayOrder":1,
"io":"Standard",
"memory":3750,
"cores":[
1,
2,
4,
8
],
"isPrimary":true,
"processorInfo":"Intel Xeon E5-2670 v2 (Ivy Bridge) - single threaded",
"storageIo":"2 GB/s read, 1GB/s write",
"description":"Standard"
}`

const specHPCTest = `
{
"hasSsd":false,
"code":"test",
"compute":"1.00",
"name":"HPC Test",
"isDeprecated":false,
"price":0.25,
"remoteVizAllowed":false,
"storage":0,
"lowPriorityPrice":"0.100",
"walltimeRequired":false,
"displayOrder":null,
"io":"",
"memory":1500,
"cores":[
1
],
"isPrimary":false,
"processorInfo":"",
"storageIo":"",
"description":""
}`

const specAbaqus = `
{
"industries":[
{
"name":"Aerospace",
"icon":null
},
{
"name":"Automotive",
"icon":null
}
],
"code":"abaqus",
"description":"<p><b>Abaqus FEA</b> is a software suite for finite element analysis and computer-aided engineering. The Abaqus product suite consists of four core software products. <i>Abaqus/CAE</i>, <i>Abaqus/CFD</i>, <i>Abaqus/Standard</i>, and <i>Abaqus/Explicit</i>.</p><p><i>Abaqus CAE</i> is a software application used for both pre-processing and visualizing finite element analysis results. <i>Abaqus/CFD</i> provides computational fluid dynamics capabilities, while <i>Abaqus/Standard</i> and <i>Abaqus/Explicit</i> are finite element analyzers that employ implicit and explicit integration schemes, respectively.</p>",
"versions":[
{
"eula":null,
"allowedCoreTypes":[
"gpu-kepler",
"gpu-tesla",
"hi-io",
"hi-mem",
"hi-mem-hpc",
"hpc",
"hpc-3",
"hpc-plus",
"lo-mem",
"standard",
"standard-plus",
"test"
],
"stdCommand":"abaqus job=<job> interactive",
"version":"6.14-1",
"mpiCommand":"abaqus job=<job> cpus=<mpi-ranks> mp_mode=mpi interactive",
"versionCode":"6.14.1-pcmpi",
"smpCommand":"abaqus job=<job> cpus=<smp-ranks> interactive"
},
{
"eula":null,
"allowedCoreTypes":[
"gpu-kepler",
"gpu-tesla",
"hi-io",
"hi-mem",
"hi-mem-hpc",
"hpc",
"hpc-3",
"hpc-plus",
"lo-mem",
"standard",
"standard-plus",
"test"
],
"stdCommand":"abaqus job=<job> interactive",
"version":"6.13-5",
"mpiCommand":"abaqus job=<job> cpus=<mpi-ranks> mp_mode=mpi interactive",
"versionCode":"6.13.5-ibm",
"smpCommand":"abaqus job=<job> cpus=<smp-ranks> interactive"
},
{
"eula":null,
"allowedCoreTypes":[
"gpu-kepler",
"gpu-tesla",
"hi-io",
"hi-mem",
"hi-mem-hpc",
"hpc",
"hpc-3",
"hpc-plus",
"lo-mem",
"standard",
"standard-plus",
"test"
],
"stdCommand":"abaqus job=<job> interactive",
"version":"6.12-1",
"mpiCommand":"abaqus job=<job> cpus=<mpi-ranks> mp_mode=mpi interactive",
"versionCode":"6.12.0-ibm",
"smpCommand":"abaqus job=<job> cpus=<smp-ranks> interactive"
},
{
"eula":null,
"allowedCoreTypes":[
"gpu-kepler",
"gpu-tesla",
"hi-io",
"hi-mem",
"hi-mem-hpc",
"hpc",
"hpc-3",
"hpc-plus",
"lo-mem",
"standard",
"standard-plus",
"test"
],
"stdCommand":"abaqus job=<job> interactive",
"version":"6.12-1-asca",
"mpiCommand":"abaqus job=<job> cpus=<mpi-ranks> mp_mode=mpi interactive",
"versionCode":"6.12.0-asca",
"smpCommand":"abaqus job=<job> cpus=<smp-ranks> interactive"
}
],
"supportDesks":[
{
"code":"rescale",
"displayName":"Rescale Support",
"email":"support@example.com"
}
],
"hasRescaleLicense":true,
"vendorName":"",
"pricing":"",
"hasShortTermLicense":false,
"licenseSettings":[
{
"isServer":true,
"licenseType":"Flex",
"helpText":"The address of the FlexNet license server to use. ([port]@hostname)",
"name":"LM_LICENSE_FILE",
"label":"License"
},
{
"isServer":true,
"licenseType":"Flex",
"helpText":"The address of the Autodesk Simulation Composite Analysis License Server [port]@hostname",
"name":"ADSKFLEX_LICENSE_FILE",
"label":"ASCA License Server"
}
],
"optimizerType":null,
"thumbnail":"/static/img/analyses_images/abaqus.png",
"resources":[
{
"url":"https://www.rescale.com/resources/software/abaqus/example/",
"name":"Basic Example"
}
],
"name":"Abaqus"
}`

const specComputePrices = `
[
{
"coreType": "sapphire",
"os": "windows",
"planType": "2021-on-demand-pro",
"planName": "2021-on-demand-pro",
"value": {
"currency": "USD",
"amount": "0.3231",
"symbol": "$"
},
"isActive": true
},
{
"coreType": "sapphire",
"os": "windows",
"planType": "2021-on-demand",
"planName": "2021-on-demand",
"value": {
"currency": "USD",
"amount": "0.3231",
"symbol": "$"
},
"isActive": true
},
{
"coreType": "sapphire",
"os": "linux",
"planType": "2021-on-demand-pro",
"planName": "2021-on-demand-pro",
"value": {
"currency": "USD",
"amount": "0.1789",
"symbol": "$"
},
"isActive": true
},
{
"coreType": "sapphire",
"os": "linux",
"planType": "2021-on-demand",
"planName": "2021-on-demand",
"value": {
"currency": "USD",
"amount": "0.0806",
"symbol": "$"
},
"isActive": true
},
{
"coreType": "emerald_max",
"os": "linux",
"planType": "2021-on-demand",
"planName": "2021-on-demand",
"value": {
"currency": "USD",
"amount": "0.0543",
"symbol": "$"
},
"isActive": true
},
{
"coreType": "emerald_max",
"os": "linux",
"planType": "2021-on-demand-pro",
"planName": "2021-on-demand-pro",
"value": {
"currency": "USD",
"amount": "0.0673",
"symbol": "$"
},
"isActive": true
}
]
`
